//! JSON bodies (wire doc §4.2): serde types, parsed leniently, written the way the official
//! clients read them. Field order is alphabetical, as fastjson writes it.

mod admin;
mod heartbeat;
mod register;
mod route;

pub use admin::*;
pub use heartbeat::*;
pub use register::*;
pub use route::*;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::BodyError;

/// Encode and decode a body with FerrumQ's defaults: compact strict JSON out, lenient in.
pub trait JsonBody: Serialize + DeserializeOwned {
    fn encode(&self) -> Vec<u8> {
        // Serializing these plain structs cannot fail (no non-string map keys reach serde).
        serde_json::to_vec(self).unwrap_or_default()
    }
    fn decode(body: &[u8]) -> Result<Self, BodyError> {
        super::lenient::from_slice(body)
    }
}
