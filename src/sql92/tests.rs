#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use proptest::prelude::*;

use super::*;

/// The sample message of features sheet §1.7.
const SAMPLE: [(&str, &str); 10] = [
    ("TAGS", "TagA"),
    ("KEYS", "order-1001"),
    ("region", "hz-01"),
    ("price", "10"),
    ("weight", "3.5"),
    ("dec", "10.0"),
    ("big", "3000000000"),
    ("plus", "+5"),
    ("vip", "true"),
    ("name", "abc"),
];

fn sample(name: &str) -> Option<&'static str> {
    SAMPLE.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Match,
    False,
    Unknown,
    Error,
    ParseError,
}

fn outcome(expr: &str) -> Outcome {
    let Ok(s) = Selector::compile(expr) else {
        return Outcome::ParseError;
    };
    match s.evaluate(&sample) {
        Ok(Some(true)) => Outcome::Match,
        Ok(Some(false)) => Outcome::False,
        Ok(None) => Outcome::Unknown,
        Err(_) => Outcome::Error,
    }
}

/// Every example of the fact sheet's table (§1.7), 5.1.3+ column where versions differ.
#[test]
fn fact_sheet_examples() {
    use Outcome::*;
    let table = [
        ("price = 10", Match),
        ("price = '10'", Match),
        ("price > 9.5", Match),
        ("price BETWEEN 5 AND 15", Match),
        ("price NOT BETWEEN 5 AND 15", False),
        ("weight > 3", Error),
        ("weight > 3.0", Match),
        ("dec = 10", Error),
        ("big > 2147483647", Error),
        ("big > 2147483648", Match),
        ("plus = 5", Match),
        ("name = 5", Error),
        ("name <> 5", Error),
        ("color <> 'red'", Unknown),
        ("'red' <> color", Match),
        ("color IS NULL", Match),
        ("color = 'red' OR price = 10", Match),
        ("color = 'red' AND price = 10", Unknown),
        ("NOT (color = 'red')", Unknown),
        ("TAGS IN ('TagA', 'TagB')", Match),
        ("color NOT IN ('x')", Unknown),
        ("vip = TRUE", Match),
        ("vip", False),
        ("TRUE = vip", Error),
        ("NOT price = 10", False),
        ("tags = 'TagA'", Unknown),
        ("region STARTSWITH 'hz'", Match),
        ("region NOT CONTAINS 'sh'", Match),
        ("price > '5'", ParseError),
        ("price = NULL", ParseError),
        ("price BETWEEN 15 AND 5", ParseError),
        ("price > 0.0", ParseError),
        ("price = 10 garbage", Match),
        ("name = \"abc\"", ParseError),
        // §1.5: evaluation is left to right and an error aborts the expression.
        ("price = 10 OR name > 5", Match),
        ("name > 5 OR price = 10", Error),
    ];
    for (expr, want) in table {
        assert_eq!(outcome(expr), want, "{expr}");
    }
}

#[test]
fn lexical_and_grammar_rules() {
    use Outcome::*;
    let table = [
        ("a = 010", Unknown),            // `a = 0`, then `10` ignored
        ("price = 010", False),          // 10 = 0
        ("price + 1 > 5", False),        // `price` alone: a string as boolean is FALSE
        ("price = 10 !", ParseError),    // the next token must lex
        ("price = 10 -- note\n", Match), // comment with its line end
        ("price = 10 -- note", ParseError),
        ("/* c */ price = 10", Match),
        ("price = 10 /* open", ParseError),
        ("name = 'a''b'", False),
        ("name = 'abc", ParseError),
        ("price = 10L", Match),
        ("price = 99999999999999999999", ParseError),
        ("price > .5", Match),
        ("price > 1e1", False),
        ("price >= 1E1", Match),
        ("price IN (10)", ParseError),
        ("5 IN ('5')", ParseError),
        ("price IN ()", ParseError),
        ("5", ParseError),
        ("'x'", ParseError),
        ("-price", ParseError),
        ("TRUE", Match),
        ("price > TRUE", ParseError),
        ("(price > 5) > 1", ParseError),
        ("price > NULL", ParseError),
        ("price BETWEEN NULL AND 5", ParseError),
        ("TRUE = 'x'", ParseError),
        ("price = 10 AND", ParseError),
        ("(price = 10", ParseError),
        ("price = 10)", Match), // `)` lexes; ignored
        ("price > 5 = TRUE", Match),
        ("price IS NOT NULL AND color IS NULL", Match),
        ("-price < 0", Unknown),
        ("price > -5", Match),
        ("price BETWEEN -5 AND -10", ParseError),
        ("region ENDSWITH '01' AND region CONTAINS 'z-'", Match),
        ("color STARTSWITH 'x'", False),
        ("color NOT STARTSWITH 'x'", False),
        ("region NOT ENDSWITH ''", False),
        ("not price = 10 or PRICE is null", Match), // keywords are case-insensitive
        ("weight > price", False),                  // two strings: as doubles, 3.5 > 10
        ("name > price", Error),
    ];
    for (expr, want) in table {
        assert_eq!(outcome(expr), want, "{expr}");
    }
}

#[test]
fn parse_errors_say_where() {
    let e = Selector::compile("price > 'x'").unwrap_err();
    assert!(e.to_string().contains("cannot be compared"), "{e}");
    let e = Selector::compile("a = #").unwrap_err();
    assert_eq!(e.position, 4, "{e}");
    assert!(Selector::compile("   ").is_err());
    let deep = format!("{}a = 1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(Selector::compile(&deep).is_err(), "nesting is bounded");
    let nots = format!("{}a", "NOT ".repeat(5000));
    assert!(Selector::compile(&nots).is_err(), "nesting is bounded");
}

#[test]
fn stored_properties_text() {
    let s = Selector::compile("TAGS = 'B' AND price > 3").unwrap();
    assert!(s.matches_properties("KEYS\u{1}k\u{2}TAGS\u{1}B\u{2}price\u{1}4"));
    assert!(!s.matches_properties("TAGS\u{1}A\u{2}price\u{1}4"));
    assert!(!s.matches_properties(""));
}

/// Values a property may take in the generated cases.
fn prop_value() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        "-?[0-9]{1,3}",
        "[0-9]{1,2}\\.[0-9]",
        Just("true".to_string()),
        "[a-c]{0,2}",
    ])
}

/// Well-typed boolean expressions over properties a, b, c.
fn bool_expr() -> impl Strategy<Value = String> {
    let operand = prop_oneof![
        "[abc]".prop_map(String::from),
        (0i32..20).prop_map(|v| v.to_string()),
    ];
    let leaf = prop_oneof![
        (
            operand.clone(),
            prop_oneof![Just("="), Just("<>"), Just(">"), Just("<="),],
            operand
        )
            .prop_map(|(l, op, r)| format!("{l} {op} {r}")),
        "[abc]".prop_map(|p| format!("{p} IS NULL")),
        "[abc]".prop_map(|p| format!("{p} IN ('a', '1', 'true')")),
        "[abc]".prop_map(|p| format!("{p} BETWEEN 2 AND 9")),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) AND ({r})")),
            (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l}) OR ({r})")),
            inner.prop_map(|e| format!("NOT ({e})")),
        ]
    })
}

proptest! {
    /// No input makes the compiler panic.
    #[test]
    fn compile_never_panics(text in "\\PC{0,60}") {
        let _ = Selector::compile(&text);
    }

    /// Three-valued logic laws hold wherever neither side errs: NOT is an involution,
    /// De Morgan, AND/OR commute when neither operand errs, BETWEEN is its expansion.
    #[test]
    fn logic_laws(
        x in bool_expr(), y in bool_expr(),
        a in prop_value(), b in prop_value(), c in prop_value(),
    ) {
        let props = [("a", a), ("b", b), ("c", c)];
        let lookup = |n: &str| props.iter().find(|(k, _)| *k == n).and_then(|(_, v)| v.as_deref());
        let eval = |e: &str| {
            let s = Selector::compile(e).unwrap_or_else(|err| panic!("{e}: {err}"));
            s.evaluate(&lookup)
        };
        let (ex, ey) = (eval(&x), eval(&y));
        if let (Ok(vx), Ok(_)) = (ex, ey) {
            prop_assert_eq!(eval(&format!("NOT (NOT ({x}))")), Ok(vx));
            prop_assert_eq!(
                eval(&format!("NOT (({x}) AND ({y}))")),
                eval(&format!("(NOT ({x})) OR (NOT ({y}))"))
            );
            prop_assert_eq!(eval(&format!("({x}) AND ({y})")), eval(&format!("({y}) AND ({x})")));
            prop_assert_eq!(eval(&format!("({x}) OR ({y})")), eval(&format!("({y}) OR ({x})")));
        }
        prop_assert_eq!(eval("a BETWEEN 2 AND 9"), eval("a >= 2 AND a <= 9"));
        prop_assert_eq!(eval("a NOT BETWEEN 2 AND 9"), eval("a < 2 OR a > 9"));
    }
}

#[test]
fn the_cache_compiles_an_expression_once() {
    let cache = SelectorCache::default();
    let a = cache.compile("price > 1").unwrap();
    let b = cache.compile("price > 1").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    assert!(cache.compile("price >").is_err());
}
