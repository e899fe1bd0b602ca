//! A table of the local fleet's state (Things, certificates, policies…): rows by name, which
//! remembers each row's value from before the first change of a transaction. That memory is
//! what makes a transaction cheap at any size: the log records only the rows it touched, and a
//! refused or unwritten change is rolled back row by row instead of by copying the whole state.
//!
//! Reading goes through `Deref` to the map; every way of changing a row is a method here, so no
//! change escapes the record.

use std::collections::BTreeMap;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone)]
pub struct Table<T> {
    rows: BTreeMap<String, T>,
    /// Each row changed since the last commit, with its value before (None: it did not exist).
    before: BTreeMap<String, Option<T>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            rows: BTreeMap::new(),
            before: BTreeMap::new(),
        }
    }
}

impl<T> Deref for Table<T> {
    type Target = BTreeMap<String, T>;

    fn deref(&self) -> &Self::Target {
        &self.rows
    }
}

impl<T: PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Self) -> bool {
        self.rows == other.rows
    }
}

impl<T: Clone> Table<T> {
    fn remember(&mut self, key: &str) {
        if !self.before.contains_key(key) {
            self.before
                .insert(key.to_owned(), self.rows.get(key).cloned());
        }
    }

    /// The row, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut T> {
        if !self.rows.contains_key(key) {
            return None;
        }
        self.remember(key);
        self.rows.get_mut(key)
    }

    /// The row, created with `new` when missing.
    pub fn get_or_insert_with(&mut self, key: &str, new: impl FnOnce() -> T) -> &mut T {
        self.remember(key);
        self.rows.entry(key.to_owned()).or_insert_with(new)
    }

    pub fn insert(&mut self, key: String, value: T) -> Option<T> {
        self.remember(&key);
        self.rows.insert(key, value)
    }

    pub fn remove(&mut self, key: &str) -> Option<T> {
        if !self.rows.contains_key(key) {
            return None;
        }
        self.remember(key);
        self.rows.remove(key)
    }

    /// The rows changed since the last commit, as they are now (None: removed).
    pub(super) fn changed(&self) -> Vec<(&str, Option<&T>)> {
        self.before
            .keys()
            .map(|key| (key.as_str(), self.rows.get(key)))
            .collect()
    }

    /// Keeps the changes: they were written.
    pub(super) fn commit(&mut self) {
        self.before.clear();
    }

    /// Puts every changed row back as it was at the last commit.
    pub(super) fn roll_back(&mut self) {
        for (key, value) in std::mem::take(&mut self.before) {
            match value {
                Some(value) => self.rows.insert(key, value),
                None => self.rows.remove(&key),
            };
        }
    }

    pub(super) fn has_changes(&self) -> bool {
        !self.before.is_empty()
    }

    /// Sets a row from the log, without remembering it (it is already written).
    pub(super) fn replay(&mut self, key: String, value: Option<T>) {
        match value {
            Some(value) => self.rows.insert(key, value),
            None => self.rows.remove(&key),
        };
    }
}

impl<T> FromIterator<(String, T)> for Table<T> {
    fn from_iter<I: IntoIterator<Item = (String, T)>>(rows: I) -> Self {
        Self {
            rows: rows.into_iter().collect(),
            before: BTreeMap::new(),
        }
    }
}

impl<T: Serialize> Serialize for Table<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.rows.serialize(serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Table<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            rows: BTreeMap::deserialize(deserializer)?,
            before: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table<u32> {
        [("a".to_owned(), 1), ("b".to_owned(), 2)]
            .into_iter()
            .collect()
    }

    #[test]
    fn a_rolled_back_transaction_leaves_every_row_as_it_was() {
        let mut rows = table();
        *rows.get_mut("a").unwrap() = 10;
        *rows.get_mut("a").unwrap() = 11;
        rows.remove("b");
        rows.insert("c".into(), 3);
        rows.get_or_insert_with("d", || 4);
        assert_eq!(rows.changed().len(), 4);
        rows.roll_back();
        assert_eq!(rows, table());
        assert!(!rows.has_changes());
    }

    #[test]
    fn the_changes_are_the_touched_rows_as_they_are_now() {
        let mut rows = table();
        *rows.get_mut("a").unwrap() = 10;
        rows.remove("b");
        rows.remove("missing");
        assert!(rows.get_mut("missing").is_none());
        assert_eq!(rows.changed(), vec![("a", Some(&10)), ("b", None)]);
        rows.commit();
        assert!(rows.changed().is_empty());
        rows.roll_back();
        assert_eq!(rows.get("a"), Some(&10), "a commit is final");
    }
}
