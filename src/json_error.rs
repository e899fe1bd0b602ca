//! Where a JSON text went wrong, said the same way everywhere (a shadow draft, a `--desired`
//! file, a policy document, the local state file): line, column, and serde's reason without its
//! own "at line N column M" suffix.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl JsonError {
    #[must_use]
    pub fn of(error: &serde_json::Error) -> Self {
        Self {
            line: error.line(),
            column: error.column(),
            message: error
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// For `#[serde(deserialize_with = "crate::json_error::present")]` on an `Option` field of a
/// record read strictly: the field must be there (null for None), where serde would otherwise
/// take a missing one as None.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_line_and_column_once() {
        let error = serde_json::from_str::<serde_json::Value>("{\n  \"a\": ,\n}").unwrap_err();
        let said = JsonError::of(&error);
        assert_eq!((said.line, said.column), (2, 8));
        assert_eq!(said.to_string(), "line 2, column 8: expected value");
    }
}
