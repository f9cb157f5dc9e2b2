//! `Variant` as its command-line name (`"async-std"`) in JSON: for the rows the workshop
//! stores and the line an idle child prints. (`pipeline::Variant` has no serde of its own.)

use pipeline::Variant;
use serde::{Deserialize, Deserializer, Serializer};

pub fn serialize<S: Serializer>(variant: &Variant, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(variant.name())
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Variant, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

/// The same for `Option<Variant>` (`null` for none).
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        variant: &Option<Variant>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match variant {
            Some(v) => serializer.serialize_some(v.name()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Variant>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|name| name.parse().map_err(serde::de::Error::custom))
            .transpose()
    }
}
