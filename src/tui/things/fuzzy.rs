//! The `/` filter's matching: each whitespace-separated word must match fuzzily (its characters
//! in order, ignoring case), greedily so that one keystroke over 100,000 rows stays within a
//! frame. Shared by `update` (which rows) and the views (which characters to highlight).

use nucleo_matcher::{Config, Matcher, Utf32Str};

pub struct Fuzzy {
    words: Vec<String>,
    matcher: Matcher,
    buffer: Vec<char>,
    needle: Vec<char>,
}

impl std::fmt::Debug for Fuzzy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fuzzy")
            .field("words", &self.words)
            .finish_non_exhaustive()
    }
}

impl Fuzzy {
    /// None for an empty filter, which matches everything.
    #[must_use]
    pub fn new(filter: &str) -> Option<Self> {
        let words: Vec<String> = filter.split_whitespace().map(str::to_lowercase).collect();
        (!words.is_empty()).then(|| Self {
            words,
            matcher: Matcher::new(Config::DEFAULT),
            buffer: Vec::new(),
            needle: Vec::new(),
        })
    }

    /// The match score (higher is better), None when a word does not match.
    pub fn score(&mut self, haystack: &str) -> Option<u32> {
        let haystack = Utf32Str::new(haystack, &mut self.buffer);
        let mut total = 0u32;
        for word in &self.words {
            let needle = Utf32Str::new(word, &mut self.needle);
            total += u32::from(self.matcher.fuzzy_match_greedy(haystack, needle)?);
        }
        Some(total)
    }

    /// The character positions of `text` that the words matched, for highlighting.
    pub fn indices(&mut self, text: &str) -> Vec<u32> {
        let haystack = Utf32Str::new(text, &mut self.buffer);
        let mut indices = Vec::new();
        for word in &self.words {
            let needle = Utf32Str::new(word, &mut self.needle);
            self.matcher
                .fuzzy_indices_greedy(haystack, needle, &mut indices);
        }
        indices
    }
}

#[cfg(test)]
mod tests {
    use super::Fuzzy;

    #[test]
    fn words_match_in_order_ignoring_case_and_all_must_match() {
        let mut fuzzy = Fuzzy::new("PMP 17").unwrap();
        assert!(fuzzy.score("pump-17 pump site-2").is_some());
        assert!(fuzzy.score("pump-18 pump").is_none());
        assert!(Fuzzy::new("  ").is_none());
        let mut fuzzy = Fuzzy::new("p7").unwrap();
        let indices = fuzzy.indices("pump-7");
        let chars: Vec<char> = indices
            .iter()
            .map(|i| "pump-7".chars().nth(*i as usize).unwrap())
            .collect();
        assert_eq!(chars, ['p', '7']);
    }
}
