//! The listed Things as the console keeps them: a million must fit in a couple of hundred MB
//! and be matched by the `/` filter at memory speed. Their strings are packed one after
//! another in one buffer, each Thing's laid out so that the text the filter matches is a slice
//! of it; an ARN is kept only when it is not the listing's usual one (prefix and name).

use std::borrow::Cow;

use crate::fleet::model::ThingSummary;

/// The listed Things, in listed order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedThings {
    /// Each Thing's text, one after another: the name; " " and the type, when it has one;
    /// " " and each attribute value (what the filter matches); then each attribute name, then
    /// the ARN when it is kept.
    text: String,
    /// Each Thing's part ends, one after another, from the start of its text: the name, the
    /// type (where the name ends when there is none), each value, each attribute name, and
    /// the ARN when it is kept (so an odd count says it is).
    ends: Vec<u32>,
    things: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    text: usize,
    ends: u32,
    haystack_end: u32,
}

impl ListedThings {
    #[must_use]
    pub fn len(&self) -> usize {
        self.things.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.things.is_empty()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.things.clear();
    }

    /// Adds `thing`, its ARN kept only when it is not `arn_prefix` followed by its name.
    ///
    /// # Panics
    ///
    /// Past 4 billion parts (16 GB of them), or a Thing of over 4 GB.
    pub fn push(&mut self, thing: &ThingSummary, arn_prefix: &str) {
        let start = self.text.len();
        let ends_start = u32::try_from(self.ends.len()).expect("fewer than 4e9 parts");
        let text = &mut self.text;
        let ends = &mut self.ends;
        let mut end = |text: &String| {
            ends.push(u32::try_from(text.len() - start).expect("a Thing's text under 4 GB"));
        };
        text.push_str(&thing.name);
        end(text);
        if let Some(kind) = &thing.thing_type {
            text.push(' ');
            text.push_str(kind);
        }
        end(text);
        for value in thing.attributes.values() {
            text.push(' ');
            text.push_str(value);
            end(text);
        }
        let haystack_end = u32::try_from(text.len() - start).expect("a Thing's text under 4 GB");
        for (name, _) in thing.attributes.iter() {
            text.push_str(name);
            end(text);
        }
        let usual = thing
            .arn
            .strip_prefix(arn_prefix)
            .is_some_and(|rest| rest == thing.name);
        if !usual {
            text.push_str(&thing.arn);
            end(text);
        }
        self.things.push(Entry {
            text: start,
            ends: ends_start,
            haystack_end,
        });
    }

    /// Thing `index`.
    ///
    /// # Panics
    ///
    /// When there are not that many, as indexing a slice does.
    #[must_use]
    pub fn at(&self, index: usize) -> ListedThing<'_> {
        let entry = self.things[index];
        let (text_end, ends_end) = self
            .things
            .get(index + 1)
            .map_or((self.text.len(), self.ends.len()), |next| {
                (next.text, next.ends as usize)
            });
        ListedThing {
            text: &self.text[entry.text..text_end],
            ends: &self.ends[entry.ends as usize..ends_end],
        }
    }

    #[must_use]
    pub fn get(&self, index: usize) -> Option<ListedThing<'_>> {
        (index < self.len()).then(|| self.at(index))
    }

    /// "name type value value…" of Thing `index`: what the `/` filter matches. Reads only the
    /// Thing's place and its text, one after another for consecutive Things.
    #[must_use]
    pub fn haystack(&self, index: usize) -> &str {
        let entry = self.things[index];
        &self.text[entry.text..entry.text + entry.haystack_end as usize]
    }

    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ListedThing<'_>> {
        (0..self.len()).map(|i| self.at(i))
    }
}

/// One listed Thing, read from `ListedThings`.
#[derive(Clone, Copy)]
pub struct ListedThing<'a> {
    text: &'a str,
    ends: &'a [u32],
}

impl std::fmt::Debug for ListedThing<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListedThing")
            .field("name", &self.name())
            .field("type", &self.thing_type())
            .field("attributes", &self.attributes().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl<'a> ListedThing<'a> {
    /// The part of the text between the end of part `at - 1` (plus `skip` separator bytes)
    /// and the end of part `at`.
    fn part(self, at: usize, skip: usize) -> &'a str {
        let start = if at == 0 {
            0
        } else {
            self.ends[at - 1] as usize + skip
        };
        &self.text[start..self.ends[at] as usize]
    }

    fn attribute_count(self) -> usize {
        (self.ends.len() - 2) / 2
    }

    #[must_use]
    pub fn name(self) -> &'a str {
        self.part(0, 0)
    }

    #[must_use]
    pub fn thing_type(self) -> Option<&'a str> {
        (self.ends[1] > self.ends[0]).then(|| self.part(1, 1))
    }

    /// Name and value of each attribute, by name.
    pub fn attributes(self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        let count = self.attribute_count();
        let thing = self;
        (0..count).map(move |i| (thing.part(2 + count + i, 0), thing.part(2 + i, 1)))
    }

    /// "name type value value…": what the `/` filter matches (`ListedThings::haystack` reads
    /// it without this Thing's part ends).
    #[must_use]
    pub fn haystack(self) -> &'a str {
        &self.text[..self.ends[1 + self.attribute_count()] as usize]
    }

    /// The ARN: the one kept, or `arn_prefix` (the one it was listed with) and the name.
    #[must_use]
    pub fn arn(self, arn_prefix: &str) -> Cow<'a, str> {
        if self.ends.len() % 2 == 1 {
            Cow::Borrowed(self.part(self.ends.len() - 1, 0))
        } else {
            Cow::Owned(format!("{arn_prefix}{}", self.name()))
        }
    }
}

/// The usual ARN prefix of a listing's Things ("arn:aws:iot:REGION:ACCOUNT:thing/"), from one
/// of them; empty when its ARN does not end with its name.
#[must_use]
pub fn arn_prefix(thing: &ThingSummary) -> String {
    thing
        .arn
        .strip_suffix(thing.name.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{ListedThings, arn_prefix};
    use crate::fleet::model::ThingSummary;
    use std::collections::BTreeMap;

    fn summary(
        name: &str,
        arn: &str,
        kind: Option<&str>,
        attributes: &[(&str, &str)],
    ) -> ThingSummary {
        ThingSummary {
            name: name.into(),
            arn: arn.into(),
            thing_type: kind.map(Into::into),
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
                .into(),
            version: 3,
        }
    }

    #[test]
    fn listed_things_read_back_what_they_were_made_from() {
        let usual = summary(
            "pump-17",
            "arn:aws:iot:eu-west-1:123456789012:thing/pump-17",
            Some("pump"),
            &[("site", "plant north"), ("fw", ""), ("serial", "SN-1 x=2")],
        );
        let prefix = arn_prefix(&usual);
        assert_eq!(prefix, "arn:aws:iot:eu-west-1:123456789012:thing/");
        // No type, no attributes, an ARN of another form: kept as it is.
        let odd = summary(
            "valve",
            "arn:aws-cn:iot:cn-north-1:1:thing/other",
            None,
            &[],
        );
        // Text that is not ASCII.
        let wide = summary("capteur-é✓", "x", Some("type-ü"), &[("clé", "valeur-ß")]);
        // An empty ARN (a test endpoint's) stays empty.
        let bare = summary("bare", "", None, &[("a", "b")]);
        let mut things = ListedThings::default();
        for thing in [&usual, &odd, &wide, &bare] {
            things.push(thing, &prefix);
        }
        assert_eq!(things.len(), 4);

        let listed = things.at(0);
        assert_eq!(listed.name(), "pump-17");
        assert_eq!(listed.thing_type(), Some("pump"));
        assert_eq!(
            listed.attributes().collect::<Vec<_>>(),
            [("fw", ""), ("serial", "SN-1 x=2"), ("site", "plant north")]
        );
        assert_eq!(things.haystack(0), "pump-17 pump  SN-1 x=2 plant north");
        assert_eq!(listed.arn(&prefix), usual.arn);
        assert!(
            !listed.text.contains("arn:"),
            "the usual ARN is not kept: {}",
            listed.text
        );

        let listed = things.at(1);
        assert_eq!(listed.name(), "valve");
        assert_eq!(listed.thing_type(), None);
        assert_eq!(listed.attributes().count(), 0);
        assert_eq!(things.haystack(1), "valve");
        assert_eq!(listed.arn(&prefix), odd.arn);

        let listed = things.at(2);
        assert_eq!(listed.name(), "capteur-é✓");
        assert_eq!(listed.thing_type(), Some("type-ü"));
        assert_eq!(
            listed.attributes().collect::<Vec<_>>(),
            [("clé", "valeur-ß")]
        );
        assert_eq!(listed.arn(&prefix), "x");

        let listed = things.at(3);
        assert_eq!(listed.arn(&prefix), "");
        assert_eq!(listed.attributes().collect::<Vec<_>>(), [("a", "b")]);
        assert!(things.get(4).is_none());
        assert_eq!(
            things
                .iter()
                .map(super::ListedThing::name)
                .collect::<Vec<_>>(),
            ["pump-17", "valve", "capteur-é✓", "bare"]
        );

        things.clear();
        assert!(things.is_empty());
    }
}
