//! A `/` filter over a long list, matched a slice at a time so that no keystroke holds the
//! screen: a million Things take several frames to match, and each frame shows the matches so
//! far and how far the match has got. Which rows match and their scores are the caller's
//! (`list.rs`); this file owns the order of the work and of the result: best first, ties in the
//! order the rows had, as fzf does.

use std::time::{Duration, Instant};

/// Rows matched in one go whatever the clock says: a list this long is matched at once, in the
/// keystroke's own update, and a slice is never so short that its threads cost more than it.
pub const MIN_ROWS: usize = 20_000;

/// A filter being matched against `base`, the rows it may keep, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    base: Vec<u32>,
    /// `base[..next]` has been matched.
    next: usize,
    /// The score of each row of the caller's list: the rows kept so far.
    scores: Vec<u32>,
    /// How many rows at the front of the list are a finished match's, best first, that this
    /// one extends with the rows of `base`; and how many rows that match looked at.
    done: usize,
    looked: usize,
    /// Rows matched a millisecond, from the last slice (0 before the first).
    rate: f64,
}

impl Matching {
    #[must_use]
    pub fn new(base: Vec<u32>) -> Self {
        Self {
            base,
            next: 0,
            scores: Vec::new(),
            done: 0,
            looked: 0,
            rate: 0.0,
        }
    }

    /// Extends a finished match that looked at `looked` rows and kept rows with `scores` (best
    /// first) by the rows `more`, which come after all of those it looked at. Only for a list
    /// in its listed order, where a row's number is its place.
    #[must_use]
    pub fn extending(scores: Vec<u32>, looked: usize, more: Vec<u32>) -> Self {
        Self {
            done: scores.len(),
            scores,
            looked,
            ..Self::new(more)
        }
    }

    /// More rows to look at, after all the others (a listing's next page).
    pub fn extend(&mut self, more: impl IntoIterator<Item = u32>) {
        self.base.extend(more);
    }

    /// How many rows have been looked at, of how many.
    #[must_use]
    pub fn progress(&self) -> (usize, usize) {
        (self.looked + self.next, self.looked + self.base.len())
    }

    /// The rows still to be looked at after `rows`, the rows this match has kept so far: the
    /// base of a longer filter, which can only keep fewer.
    #[must_use]
    pub fn narrowed(&self, rows: &[u32]) -> Vec<u32> {
        let mut base = Vec::with_capacity(rows.len() + self.base.len() - self.next);
        // A finished match's rows are best first; the longer filter wants the list's order
        // among its ties, which for a listed list is the rows' numbers.
        let (earlier, later) = rows.split_at(self.done);
        base.extend_from_slice(earlier);
        base.sort_unstable();
        base.extend_from_slice(later);
        base.extend_from_slice(&self.base[self.next..]);
        base
    }

    /// Matches rows for about `budget` (at least `MIN_ROWS`, or what is left), appending the
    /// ones kept to `rows`. `scorer` makes one scoring function a thread: a row's score, or
    /// None when the filter does not keep it. True when every row has been looked at.
    ///
    /// # Panics
    ///
    /// When `scorer` panics in one of the matching threads.
    pub fn advance<F, S>(&mut self, rows: &mut Vec<u32>, budget: Duration, scorer: &F) -> bool
    where
        F: Fn() -> S + Sync,
        S: FnMut(u32) -> Option<u32>,
    {
        let started = Instant::now();
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(8);
        // Room for every row that could be kept, so the lists never grow by copying (a
        // million rows' copy and its fresh pages cost a frame).
        rows.reserve(self.base.len() - self.next);
        self.scores.reserve(self.base.len() - self.next);
        for chunk in 0.. {
            let left = self.base.len() - self.next;
            if left == 0 {
                return true;
            }
            let spent = started.elapsed();
            if chunk > 0 && spent >= budget {
                return false;
            }
            let remaining_ms = budget.saturating_sub(spent).as_secs_f64() * 1000.0;
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a positive count of rows, far below usize::MAX"
            )]
            // Planned short of the budget: the next rows may be slower to match than the last.
            let planned = (self.rate * remaining_ms * 0.75) as usize;
            let take = planned.max(MIN_ROWS).min(left);
            let chunk_started = Instant::now();
            let slice = &self.base[self.next..self.next + take];
            let parts = if take < MIN_ROWS || threads == 1 {
                vec![score_part(slice, scorer)]
            } else {
                let size = take.div_ceil(threads);
                std::thread::scope(|scope| {
                    let handles: Vec<_> = slice
                        .chunks(size)
                        .map(|part| scope.spawn(move || score_part(part, scorer)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().expect("a matching thread"))
                        .collect()
                })
            };
            for part in parts {
                for (row, score) in part {
                    rows.push(row);
                    self.scores.push(score);
                }
            }
            self.next += take;
            let ms = chunk_started.elapsed().as_secs_f64() * 1000.0;
            #[expect(clippy::cast_precision_loss, reason = "row counts far below 2^52")]
            if ms > 0.0 {
                self.rate = take as f64 / ms;
            }
        }
        unreachable!("the loop returns")
    }

    /// Once every row has been looked at: puts `rows` (as `advance` left them) best first, ties
    /// in their order, merged with the rows of the match this one extends. Returns the scores,
    /// in the rows' new order, for a later `extending`.
    #[must_use]
    pub fn finish(self, rows: &mut Vec<u32>) -> Vec<u32> {
        debug_assert_eq!(self.next, self.base.len());
        let (sorted, scores) = best_first(&rows[self.done..], &self.scores[self.done..]);
        if self.done == 0 {
            *rows = sorted;
            return scores;
        }
        let (merged, merged_scores) = merge(
            &rows[..self.done],
            &self.scores[..self.done],
            &sorted,
            &scores,
        );
        *rows = merged;
        merged_scores
    }
}

fn score_part<F, S>(part: &[u32], scorer: &F) -> Vec<(u32, u32)>
where
    F: Fn() -> S,
    S: FnMut(u32) -> Option<u32>,
{
    let mut score = scorer();
    part.iter()
        .filter_map(|&row| score(row).map(|s| (row, s)))
        .collect()
}

/// `rows` ordered by score, highest first, ties keeping their order: a counting sort when the
/// scores span a small range (they do: a fuzzy score is a few hundred at most), O(n).
fn best_first(rows: &[u32], scores: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let (Some(&low), Some(&high)) = (scores.iter().min(), scores.iter().max()) else {
        return (Vec::new(), Vec::new());
    };
    if low == high {
        return (rows.to_vec(), scores.to_vec());
    }
    let span = (high - low) as usize + 1;
    if span > 1 << 20 {
        let mut pairs: Vec<(u32, u32)> = scores.iter().copied().zip(rows.iter().copied()).collect();
        pairs.sort_by_key(|&(score, _)| std::cmp::Reverse(score));
        return pairs.into_iter().map(|(s, r)| (r, s)).unzip();
    }
    // Slot 0 is the highest score.
    let mut starts = vec![0usize; span + 1];
    for &score in scores {
        starts[(high - score) as usize + 1] += 1;
    }
    for slot in 1..=span {
        starts[slot] += starts[slot - 1];
    }
    let mut sorted = vec![0u32; rows.len()];
    let mut sorted_scores = vec![0u32; rows.len()];
    for (&row, &score) in rows.iter().zip(scores) {
        let slot = &mut starts[(high - score) as usize];
        sorted[*slot] = row;
        sorted_scores[*slot] = score;
        *slot += 1;
    }
    (sorted, sorted_scores)
}

/// Two best-first lists merged, best first; on a tie the first list's row, which came first.
fn merge(a: &[u32], a_scores: &[u32], b: &[u32], b_scores: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut rows = Vec::with_capacity(a.len() + b.len());
    let mut scores = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let take_a = j == b.len() || (i < a.len() && a_scores[i] >= b_scores[j]);
        if take_a {
            rows.push(a[i]);
            scores.push(a_scores[i]);
            i += 1;
        } else {
            rows.push(b[j]);
            scores.push(b_scores[j]);
            j += 1;
        }
    }
    (rows, scores)
}

#[cfg(test)]
mod tests {
    #![expect(clippy::cast_possible_truncation, reason = "MIN_ROWS is 20,000")]
    use super::{MIN_ROWS, Matching};
    use std::time::Duration;

    const ROWS: u32 = MIN_ROWS as u32;

    /// A score from a row's digits: rows ending in 0 are dropped, the others score their last
    /// digit (many ties).
    fn scorer() -> impl FnMut(u32) -> Option<u32> {
        |row| (!row.is_multiple_of(10)).then_some(row % 10)
    }

    /// The order the whole-list sort gave: best first, ties in base order.
    fn expected(base: &[u32]) -> Vec<u32> {
        let mut kept: Vec<(std::cmp::Reverse<u32>, usize, u32)> = base
            .iter()
            .enumerate()
            .filter_map(|(at, &row)| scorer()(row).map(|s| (std::cmp::Reverse(s), at, row)))
            .collect();
        kept.sort_unstable();
        kept.into_iter().map(|(_, _, row)| row).collect()
    }

    fn run(matching: &mut Matching, rows: &mut Vec<u32>, budget: Duration) -> usize {
        let mut slices = 1;
        while !matching.advance(rows, budget, &scorer) {
            slices += 1;
        }
        slices
    }

    #[test]
    fn a_match_in_many_slices_orders_as_one_sort_of_the_whole_list() {
        // A base in no particular order, long enough for several slices at a zero budget.
        let base: Vec<u32> = (0..ROWS * 5 + 7).map(|i| i * 7919 % 1_000_003).collect();
        let mut matching = Matching::new(base.clone());
        let mut rows = Vec::new();
        let slices = run(&mut matching, &mut rows, Duration::ZERO);
        assert_eq!(slices, 6, "each slice matches at least MIN_ROWS");
        assert_eq!(matching.progress(), (base.len(), base.len()));
        let scores = matching.finish(&mut rows);
        assert_eq!(rows, expected(&base));
        assert_eq!(scores.len(), rows.len());
        assert!(scores.windows(2).all(|w| w[0] >= w[1]));
    }

    #[test]
    fn a_short_list_is_matched_in_one_slice_whatever_the_clock() {
        let base: Vec<u32> = (0..500).rev().collect();
        let mut matching = Matching::new(base.clone());
        let mut rows = Vec::new();
        assert!(matching.advance(&mut rows, Duration::ZERO, &scorer));
        let _ = matching.finish(&mut rows);
        assert_eq!(rows, expected(&base));
    }

    #[test]
    fn rows_added_to_a_finished_match_merge_as_if_matched_together() {
        let first: Vec<u32> = (0..30_011).collect();
        let more: Vec<u32> = (30_011..75_000).collect();
        let mut matching = Matching::new(first.clone());
        let mut rows = Vec::new();
        run(&mut matching, &mut rows, Duration::ZERO);
        let scores = matching.finish(&mut rows);
        let finished = rows.clone();

        let mut grown = Matching::extending(scores, first.len(), more[..20_000].to_vec());
        let _ = grown.advance(&mut rows, Duration::ZERO, &scorer);
        // The finished rows stay on screen, first, while the new ones are matched.
        assert_eq!(rows[..finished.len()], finished[..]);
        // A page arrives meanwhile.
        grown.extend(more[20_000..].iter().copied());
        let narrowed = grown.narrowed(&rows);
        assert!(
            narrowed.windows(2).all(|w| w[0] < w[1]),
            "a listed list's order"
        );
        run(&mut grown, &mut rows, Duration::ZERO);
        assert_eq!(grown.progress(), (75_000, 75_000));
        let _ = grown.finish(&mut rows);
        let all: Vec<u32> = first.iter().chain(&more).copied().collect();
        assert_eq!(rows, expected(&all));
    }

    #[test]
    fn a_longer_filter_starts_from_what_an_unfinished_match_kept_and_what_it_had_not_reached() {
        let base: Vec<u32> = (0..ROWS * 3).collect();
        let mut matching = Matching::new(base.clone());
        let mut rows = Vec::new();
        assert!(!matching.advance(&mut rows, Duration::ZERO, &scorer));
        let narrowed = matching.narrowed(&rows);
        // What it kept of the first slice, then the rest untouched, in order.
        let kept: Vec<u32> = base[..MIN_ROWS]
            .iter()
            .copied()
            .filter(|r| r % 10 != 0)
            .collect();
        assert_eq!(narrowed[..kept.len()], kept[..]);
        assert_eq!(narrowed[kept.len()..], base[MIN_ROWS..]);
    }
}
