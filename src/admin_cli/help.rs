//! `mqadmin help <command>` and `<command> -h` in Apache commons-cli's layout (the fact
//! sheet's 1.5): a synopsis with required options bare, optional ones in brackets and an
//! exclusive group as `a | b`, wrapped at 110 columns with a 7-space indent; then one line
//! per option, sorted, descriptions aligned.

/// Total width of the usage text, as Apache's tool sets it.
const WIDTH: usize = 110;

/// One option as commons-cli shows it.
struct Opt {
    short: Option<char>,
    long: Option<String>,
    takes_value: bool,
    required: bool,
    help: String,
}

impl Opt {
    fn sort_key(&self) -> String {
        self.short
            .map(String::from)
            .or_else(|| self.long.clone())
            .unwrap_or_default()
    }

    /// `-b <arg>` / `--json` in the synopsis.
    fn synopsis(&self) -> String {
        let name = match (self.short, &self.long) {
            (Some(s), _) => format!("-{s}"),
            (None, Some(l)) => format!("--{l}"),
            (None, None) => String::new(),
        };
        if self.takes_value {
            format!("{name} <arg>")
        } else {
            name
        }
    }

    /// ` -b,--brokerAddr <arg>` in the option list.
    fn left(&self) -> String {
        let mut s = match (self.short, &self.long) {
            (Some(c), Some(l)) => format!(" -{c},--{l}"),
            (Some(c), None) => format!(" -{c}"),
            (None, Some(l)) => format!("    --{l}"),
            (None, None) => String::new(),
        };
        if self.takes_value {
            s.push_str(" <arg>");
        }
        s
    }
}

fn options(cmd: &clap::Command) -> Vec<Opt> {
    let mut out: Vec<Opt> = cmd
        .get_arguments()
        .filter(|a| a.get_id() != "help" && a.get_id() != "version")
        .map(|a| Opt {
            short: a.get_short(),
            long: a.get_long().map(String::from),
            takes_value: a.get_action().takes_values(),
            required: a.is_required_set(),
            help: a.get_help().map(|h| h.to_string()).unwrap_or_default(),
        })
        .collect();
    out.push(Opt {
        short: Some('h'),
        long: Some("help".into()),
        takes_value: false,
        required: false,
        help: "Print help".into(),
    });
    out.sort_by_key(Opt::sort_key);
    out
}

/// Words wrapped at [`WIDTH`], continuation lines indented by 7 spaces.
fn wrap(words: &[String]) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for w in words {
        if !line.is_empty() && line.len() + 1 + w.len() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(7);
        }
        if !line.trim().is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    out.push_str(line.trim_end());
    out
}

/// The usage text of one subcommand.
pub fn render(name: &str, cmd: &clap::Command) -> String {
    let opts = options(cmd);
    let grouped: Vec<String> = cmd
        .get_groups()
        .filter(|g| g.is_required_set())
        .flat_map(|g| g.get_args().map(|a| a.to_string()).collect::<Vec<_>>())
        .collect();
    let mut words = vec![
        "usage:".to_string(),
        "mqadmin".to_string(),
        name.to_string(),
    ];
    for g in cmd.get_groups().filter(|g| g.is_required_set()) {
        let alts: Vec<String> = g
            .get_args()
            .filter_map(|id| cmd.get_arguments().find(|a| a.get_id() == id))
            .map(|a| {
                let short = a.get_short().map(|c| format!("-{c}")).unwrap_or_default();
                format!("{short} <arg>")
            })
            .collect();
        // The group reads as one unit, then two spaces, as commons-cli prints it.
        let text = alts.join(" | ");
        words.extend(text.split(' ').map(String::from));
        if let Some(last) = words.last_mut() {
            last.push(' ');
        }
    }
    for o in &opts {
        let id_grouped = o
            .long
            .as_ref()
            .and_then(|l| cmd.get_arguments().find(|a| a.get_long() == Some(l)))
            .is_some_and(|a| grouped.contains(&a.get_id().to_string()));
        if id_grouped {
            continue;
        }
        let syn = o.synopsis();
        let mut parts: Vec<String> = syn.split(' ').map(String::from).collect();
        if !o.required {
            if let Some(first) = parts.first_mut() {
                first.insert(0, '[');
            }
            if let Some(last) = parts.last_mut() {
                last.push(']');
            }
        }
        words.extend(parts);
    }
    let mut out = wrap(&words);
    out.push('\n');
    let pad = opts.iter().map(|o| o.left().len()).max().unwrap_or(0) + 3;
    for o in &opts {
        out.push_str(&format!("{:<pad$}{}\n", o.left(), o.help));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use clap::Args;

    #[derive(Args, Debug)]
    #[group(skip)]
    #[command(group(clap::ArgGroup::new("target").required(true).args(["broker", "cluster"])))]
    struct Sample {
        /// create topic to which broker
        #[arg(short = 'b', long = "brokerAddr")]
        broker: Option<String>,
        /// create topic to which cluster
        #[arg(short = 'c', long = "clusterName")]
        cluster: Option<String>,
        /// topic name
        #[arg(short = 't', long = "topic")]
        topic: String,
        /// set write queue nums
        #[arg(short = 'w', long = "writeQueueNums", default_value_t = 8)]
        write: i32,
        /// one JSON document
        #[arg(long)]
        json: bool,
    }

    #[test]
    fn commons_cli_layout() {
        let cmd = Sample::augment_args(clap::Command::new("updateTopic"));
        let text = render("updateTopic", &cmd);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "usage: mqadmin updateTopic -b <arg> | -c <arg>  [-h] [--json] -t <arg> [-w <arg>]"
        );
        assert_eq!(
            lines[1],
            format!(
                "{:<29}create topic to which broker",
                " -b,--brokerAddr <arg>"
            )
        );
        assert_eq!(lines[3], format!("{:<29}Print help", " -h,--help"));
        assert_eq!(lines[4], format!("{:<29}one JSON document", "    --json"));
        assert_eq!(
            lines[6],
            format!("{:<29}set write queue nums", " -w,--writeQueueNums <arg>")
        );
    }

    #[test]
    fn long_synopsis_wraps_with_seven_spaces() {
        let words: Vec<String> = (0..40).map(|i| format!("[-{i} <arg>]")).collect();
        let text = wrap(&words);
        assert!(text.lines().all(|l| l.len() <= WIDTH));
        assert!(text.lines().skip(1).all(|l| l.starts_with("       [")));
    }
}
