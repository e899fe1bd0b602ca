//! Whether a Thing's indexed fields satisfy a query. The Thing is seen through [`Document`], so
//! the local IoT Core evaluates over its own records without building a document per Thing.
//! Text matches ignore case, as AWS's do; a range compares numbers when both ends and the value
//! are numbers, text otherwise.

use std::cmp::Ordering;

use super::parse::{Bound, Field, Node, Piece, Query, Test};

/// One indexed value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Text(&'a str),
    Number(f64),
    Bool(bool),
}

/// A Thing's indexed fields.
pub trait Document {
    /// Calls `found` with each value of `field` (every value of every field for
    /// [`Field::Any`]) until it returns true; says whether one did.
    fn any(&self, field: &Field, found: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool;
}

impl Query {
    #[must_use]
    pub fn matches(&self, document: &dyn Document) -> bool {
        node_matches(&self.root, document)
    }
}

fn node_matches(node: &Node, document: &dyn Document) -> bool {
    match node {
        Node::And(parts) => parts.iter().all(|p| node_matches(p, document)),
        Node::Or(parts) => parts.iter().any(|p| node_matches(p, document)),
        Node::Not(inner) => !node_matches(inner, document),
        Node::Term { field, test } => document.any(field, &mut |value| test_matches(test, value)),
    }
}

fn test_matches(wanted: &Test, value: Scalar<'_>) -> bool {
    let mut buffer = String::new();
    let text = text_of(value, &mut buffer);
    match wanted {
        Test::Pattern(pieces) => {
            if let (Scalar::Number(n), Some(wanted)) = (value, plain_number(pieces)) {
                #[expect(clippy::float_cmp, reason = "equality of the numbers as written")]
                return n == wanted;
            }
            glob(pieces, text)
        }
        Test::Phrase(phrase) => text.to_lowercase() == phrase.to_lowercase(),
        Test::Range { lower, upper } => {
            in_bound(value, text, lower, Ordering::Greater)
                && in_bound(value, text, upper, Ordering::Less)
        }
    }
}

fn text_of<'a>(value: Scalar<'a>, buffer: &'a mut String) -> &'a str {
    match value {
        Scalar::Text(text) => text,
        Scalar::Bool(true) => "true",
        Scalar::Bool(false) => "false",
        Scalar::Number(n) => {
            *buffer = n.to_string();
            buffer
        }
    }
}

/// The number a wildcard-free term spells, if it spells one.
fn plain_number(pieces: &[Piece]) -> Option<f64> {
    let mut text = String::with_capacity(pieces.len());
    for piece in pieces {
        match piece {
            Piece::Char(c) => text.push(*c),
            Piece::Star | Piece::One => return None,
        }
    }
    text.parse().ok()
}

/// Whether `value` lies on the right side of `bound` (`side` is where it must be:
/// Greater for a lower bound, Less for an upper one).
fn in_bound(value: Scalar<'_>, text: &str, bound: &Bound, side: Ordering) -> bool {
    let (limit, inclusive) = match bound {
        Bound::Open => return true,
        Bound::Included(limit) => (limit, true),
        Bound::Excluded(limit) => (limit, false),
    };
    let number = match value {
        Scalar::Number(n) => Some(n),
        Scalar::Text(t) => t.parse::<f64>().ok(),
        Scalar::Bool(_) => None,
    };
    let order = match (number, limit.parse::<f64>()) {
        (Some(n), Ok(l)) => n.partial_cmp(&l),
        _ => Some(text.to_lowercase().cmp(&limit.to_lowercase())),
    };
    match order {
        Some(Ordering::Equal) => inclusive,
        Some(order) => order == side,
        None => false,
    }
}

/// A whole-value wildcard match ignoring case: `*` any run, `?` any one character, in time
/// linear in the value (`crate::wildcard`).
fn glob(pieces: &[Piece], text: &str) -> bool {
    use crate::wildcard::Item;
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let pattern: Vec<Item> = pieces
        .iter()
        .flat_map(|piece| match piece {
            Piece::Star => vec![Item::Run],
            Piece::One => vec![Item::One],
            Piece::Char(c) => c.to_lowercase().map(Item::Char).collect(),
        })
        .collect();
    crate::wildcard::matches(&pattern, &text)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct Thing {
        name: &'static str,
        attributes: BTreeMap<&'static str, &'static str>,
        speed: Option<f64>,
        connected: bool,
    }

    impl Document for Thing {
        fn any(&self, field: &Field, found: &mut dyn FnMut(Scalar<'_>) -> bool) -> bool {
            match field {
                Field::ThingName => found(Scalar::Text(self.name)),
                Field::Attribute(name) => self
                    .attributes
                    .get(name.as_str())
                    .is_some_and(|v| found(Scalar::Text(v))),
                Field::Shadow { path, .. } if path == &["speed"] => {
                    self.speed.is_some_and(|s| found(Scalar::Number(s)))
                }
                Field::Connected => found(Scalar::Bool(self.connected)),
                Field::Any => {
                    found(Scalar::Text(self.name))
                        || self.attributes.values().any(|v| found(Scalar::Text(v)))
                }
                _ => false,
            }
        }
    }

    fn pump() -> Thing {
        Thing {
            name: "Pump-02",
            attributes: [("site", "plant-north"), ("serial", "abce"), ("n", "77")].into(),
            speed: Some(55.0),
            connected: true,
        }
    }

    fn matches(query: &str) -> bool {
        Query::parse(query).unwrap().matches(&pump())
    }

    #[test]
    fn terms_match_whole_values_ignoring_case_with_wildcards() {
        assert!(matches("thingName:pump-02"));
        assert!(matches("thingName:pump*"));
        assert!(matches("thingName:*02"));
        assert!(matches("thingName:pump-0?"));
        assert!(!matches("thingName:pump"));
        assert!(!matches("thingName:pump-0"));
        assert!(matches("thingName:*"));
        assert!(matches("plant-north"));
        assert!(!matches("plant"));
        assert!(matches("attributes.site:\"PLANT-NORTH\""));
        assert!(matches(
            "attributes.site:plant-north AND connectivity.connected:true"
        ));
        assert!(!matches(
            "attributes.site:plant-north AND connectivity.connected:false"
        ));
        assert!(matches("attributes.site:plant-south OR thingName:pump-02"));
        assert!(matches("thingName:(pump* AND -camera*)"));
        assert!(!matches("NOT thingName:pump*"));
        assert!(!matches("attributes.missing:*"));
    }

    #[test]
    fn numbers_and_ranges() {
        assert!(matches("shadow.reported.speed:55"));
        assert!(matches("shadow.reported.speed:55.0"));
        assert!(!matches("shadow.reported.speed:56"));
        assert!(matches("shadow.reported.speed:[50 TO 55]"));
        assert!(!matches("shadow.reported.speed:[50 TO 55}"));
        assert!(matches("shadow.reported.speed>=55"));
        assert!(!matches("shadow.reported.speed>55"));
        assert!(matches("shadow.reported.speed:[* TO 100]"));
        // Attributes are text; numbers in them compare as numbers.
        assert!(matches("attributes.n:[75 TO 80]"));
        assert!(matches("attributes.n:{76 TO *]"));
        assert!(!matches("attributes.n<77"));
        assert!(matches("attributes.serial:[\"abcd\" TO \"abcf\"]"));
        assert!(!matches("attributes.serial:[abcf TO abcz]"));
    }

    #[test]
    fn globs() {
        let g = |p: &str, t: &str| {
            let pieces: Vec<Piece> = p
                .chars()
                .map(|c| match c {
                    '*' => Piece::Star,
                    '?' => Piece::One,
                    c => Piece::Char(c),
                })
                .collect();
            glob(&pieces, t)
        };
        assert!(g("a*b*c", "aXXbYYc"));
        assert!(g("a*b*c", "abbc"));
        assert!(!g("a*b*c", "abca"));
        assert!(g("*", ""));
        assert!(!g("?", ""));
        assert!(g("i*t", "iot"));
    }
}
