//! Received messages kept under a hard memory budget: payloads above the display limit are cut
//! at ingest (their real size kept), every message is accounted with its bookkeeping, the oldest
//! go first when the budget is reached, and every message evicted is counted. Per-topic counts
//! and a one-minute rate survive eviction. Pure data: the traffic screen and benches share it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use time::OffsetDateTime;

use super::client::TrafficMessage;

/// The default budget for kept messages.
pub const DEFAULT_BUDGET: usize = 64 * 1024 * 1024;
/// Payloads longer than this are kept cut to it (a screen shows far less anyway).
pub const DISPLAY_LIMIT: usize = 64 * 1024;
/// Seconds of history in a topic's rate.
pub const RATE_SECONDS: usize = 60;
const SLOTS: i64 = 60;

/// A kept message, as read from the history. The payload may be cut: `size` is the size that
/// arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kept<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub size: u32,
    pub qos: u8,
    pub retain: bool,
    /// Nanoseconds since the epoch: made a time only for the messages shown
    /// ([`Kept::received`]), not for each one a topic or search filter passes over.
    received_nanos: i64,
}

impl Kept<'_> {
    #[must_use]
    pub fn truncated(&self) -> bool {
        self.payload.len() < self.size as usize
    }

    /// When it was read (UTC).
    #[must_use]
    pub fn received(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.received_nanos))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// A kept message as the history holds it: 32 bytes, its topic and payload by place (a
/// hundred thousand messages a second each cost an entry's worth of fresh memory, and shared
/// pointers cost atomic counts to take and to drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Nanoseconds since the epoch (UTC).
    received: i64,
    /// The chunk of the payload (a sequence number: `chunks[0]` is `first_chunk`), where it
    /// starts in it and how long the kept part is.
    chunk: u32,
    offset: u32,
    len: u32,
    size: u32,
    /// The topic's place in `names`.
    topic: u32,
    qos: u8,
    retain: bool,
}

/// Bytes accounted per kept message beyond its payload: the entry itself plus a share of the
/// room the queue of entries keeps spare.
pub const MESSAGE_OVERHEAD: usize = std::mem::size_of::<Entry>() + 16;

/// Kept payloads are copied one after another into chunks of this size: an allocation a chunk,
/// not a message. Messages go oldest first, so chunks are emptied whole, in order, and reused;
/// the budget counts payloads, and at most the chunk being emptied and the one being filled
/// hold more than that.
const CHUNK: usize = 1024 * 1024;

/// Emptied chunks kept for reuse: a new allocation of a chunk's size is a new mapping, whose
/// pages the kernel faults in and zeroes again.
const SPARE_CHUNKS: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStats {
    /// Messages received on the topic, kept or not.
    pub count: u64,
    pub last: OffsetDateTime,
    /// Messages per second over the last minute, oldest first once read with [`TopicStats::rate`].
    per_second: [u32; RATE_SECONDS],
    second: i64,
    /// The topic's place in `History::names`, found with the statistics in one lookup.
    id: u32,
}

impl TopicStats {
    /// Messages in each of the last `RATE_SECONDS` seconds up to `now`, oldest first.
    #[must_use]
    pub fn rate(&self, now: OffsetDateTime) -> Vec<u32> {
        let now = now.unix_timestamp();
        (0..SLOTS)
            .rev()
            .map(|ago| {
                let second = now - ago;
                if second > self.second || self.second - second >= SLOTS {
                    0
                } else {
                    self.per_second[usize::try_from(second.rem_euclid(SLOTS)).unwrap_or(0)]
                }
            })
            .collect()
    }

    fn count_at(&mut self, second: i64) {
        let slots = SLOTS;
        if second > self.second {
            // Clear the slots of the seconds that passed without messages.
            for passed in (self.second + 1).max(second - slots + 1)..=second {
                self.per_second[usize::try_from(passed.rem_euclid(slots)).unwrap_or(0)] = 0;
            }
            self.second = second;
        }
        if self.second - second < slots {
            self.per_second[usize::try_from(second.rem_euclid(slots)).unwrap_or(0)] += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    budget: usize,
    used: usize,
    messages: VecDeque<Entry>,
    topics: HashMap<Arc<str>, TopicStats>,
    /// Every topic seen, by `TopicStats::id`.
    names: Vec<Arc<str>>,
    /// The chunks holding kept payloads, oldest first; payloads are copied into the last.
    chunks: VecDeque<Vec<u8>>,
    /// The sequence number of `chunks[0]`.
    first_chunk: u32,
    /// Emptied chunks, for reuse.
    spare: Vec<Vec<u8>>,
    chunks_allocated: u64,
    received: u64,
    evicted: u64,
    truncated: u64,
}

impl History {
    #[must_use]
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            used: 0,
            messages: VecDeque::new(),
            topics: HashMap::new(),
            names: Vec::new(),
            chunks: VecDeque::new(),
            first_chunk: 0,
            spare: Vec::new(),
            chunks_allocated: 0,
            received: 0,
            evicted: 0,
            truncated: 0,
        }
    }

    /// Keeps a message, evicting the oldest while over budget.
    pub fn push(&mut self, message: &TrafficMessage) {
        self.received += 1;
        let size = message.payload.len();
        let kept = &message.payload[..size.min(DISPLAY_LIMIT)];
        if kept.len() < size {
            self.truncated += 1;
        }
        let (chunk, offset) = self.copy(kept);
        // One lookup for a topic seen before (every message but a topic's first).
        let stats = if let Some(stats) = self.topics.get_mut(message.topic.as_str()) {
            stats
        } else {
            let topic: Arc<str> = Arc::from(message.topic.as_str());
            self.used += topic.len() + std::mem::size_of::<TopicStats>() + 48;
            let stats = TopicStats {
                count: 0,
                last: message.received,
                per_second: [0; RATE_SECONDS],
                second: i64::MIN / 2,
                id: u32::try_from(self.names.len()).unwrap_or(u32::MAX),
            };
            self.names.push(topic.clone());
            self.topics.entry(topic).or_insert(stats)
        };
        stats.count += 1;
        stats.last = message.received;
        stats.count_at(message.received.unix_timestamp());
        let topic = stats.id;
        self.used += kept.len() + MESSAGE_OVERHEAD;
        self.messages.push_back(Entry {
            received: i64::try_from(message.received.unix_timestamp_nanos()).unwrap_or(0),
            chunk,
            offset,
            len: u32::try_from(kept.len()).unwrap_or(u32::MAX),
            size: u32::try_from(size).unwrap_or(u32::MAX),
            topic,
            qos: message.qos,
            retain: message.retain,
        });
        while self.used > self.budget {
            let Some(oldest) = self.messages.pop_front() else {
                break;
            };
            self.used -= oldest.len as usize + MESSAGE_OVERHEAD;
            self.evicted += 1;
        }
        self.release_chunks();
    }

    /// `bytes` copied into the last chunk, or a new one when it has no room left: the chunk's
    /// sequence number and where the bytes start in it.
    fn copy(&mut self, bytes: &[u8]) -> (u32, u32) {
        let full = self
            .chunks
            .back()
            .is_none_or(|chunk| chunk.len() + bytes.len() > CHUNK);
        if full {
            let chunk = self.spare.pop().unwrap_or_else(|| {
                self.chunks_allocated += 1;
                Vec::with_capacity(CHUNK)
            });
            self.chunks.push_back(chunk);
        }
        let last = self.chunks.back_mut().expect("a chunk to copy into");
        let offset = u32::try_from(last.len()).unwrap_or(u32::MAX);
        last.extend_from_slice(bytes);
        let number = u32::try_from(self.chunks.len() - 1)
            .unwrap_or(u32::MAX)
            .wrapping_add(self.first_chunk);
        (number, offset)
    }

    /// Chunks before the oldest kept message's are emptied and kept for reuse (a few).
    fn release_chunks(&mut self) {
        let oldest = self.messages.front().map(|m| m.chunk);
        while self.chunks.len() > 1 && oldest != Some(self.first_chunk) {
            let mut chunk = self.chunks.pop_front().expect("more than one chunk");
            self.first_chunk = self.first_chunk.wrapping_add(1);
            if self.spare.len() < SPARE_CHUNKS {
                chunk.clear();
                self.spare.push(chunk);
            }
        }
    }

    /// The message an entry holds.
    fn read(&self, entry: &Entry) -> Kept<'_> {
        let chunk = &self.chunks[entry.chunk.wrapping_sub(self.first_chunk) as usize];
        let start = entry.offset as usize;
        Kept {
            topic: &self.names[entry.topic as usize],
            payload: &chunk[start..start + entry.len as usize],
            size: entry.size,
            qos: entry.qos,
            retain: entry.retain,
            received_nanos: entry.received,
        }
    }

    /// Forgets kept messages (counts and rates stay).
    pub fn clear(&mut self) {
        let cleared = self.messages.len() as u64;
        for kept in self.messages.drain(..) {
            self.used -= kept.len as usize + MESSAGE_OVERHEAD;
        }
        // Nothing is kept: the chunks go back to the allocator, but for the last (numbered on).
        while self.chunks.len() > 1 {
            self.chunks.pop_front();
            self.first_chunk = self.first_chunk.wrapping_add(1);
        }
        if let Some(last) = self.chunks.back_mut() {
            last.clear();
        }
        self.spare.clear();
        self.evicted += cleared;
    }

    #[must_use]
    pub fn messages(&self) -> impl DoubleEndedIterator<Item = Kept<'_>> + ExactSizeIterator {
        self.messages.iter().map(|entry| self.read(entry))
    }

    #[must_use]
    pub fn topics(&self) -> &HashMap<Arc<str>, TopicStats> {
        &self.topics
    }

    /// Bytes accounted now: kept messages and per-topic statistics. Above the budget only when
    /// the statistics of distinct topics alone exceed it (then no message is kept).
    #[must_use]
    pub fn used(&self) -> usize {
        self.used
    }

    #[must_use]
    pub fn budget(&self) -> usize {
        self.budget
    }

    #[must_use]
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Messages no longer kept (evicted for the budget, or cleared).
    #[must_use]
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    #[must_use]
    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    /// Chunks allocated for payloads so far (emptied ones are reused).
    #[must_use]
    pub fn chunks_allocated(&self) -> u64 {
        self.chunks_allocated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str, payload: Vec<u8>, second: i64) -> TrafficMessage {
        TrafficMessage {
            topic: topic.to_owned(),
            payload: bytes::Bytes::from(payload),
            qos: 1,
            retain: false,
            received: OffsetDateTime::from_unix_timestamp(second).unwrap(),
        }
    }

    #[test]
    fn a_flood_ten_times_the_budget_stays_under_it_and_every_eviction_is_counted() {
        let budget = 1024 * 1024;
        let mut history = History::new(budget);
        let payload = br#"{"temperature":21.5,"humidity":40,"battery":87,"firmware":"2.4.1","status":"ok","seq":123456789}"#.to_vec();
        let mut pushed = 0u64;
        let mut bytes = 0usize;
        while bytes < 10 * budget {
            history.push(&message(
                &format!("devices/d-{}/telemetry", pushed % 1000),
                payload.clone(),
                0,
            ));
            pushed += 1;
            bytes += payload.len();
        }
        assert!(history.used() <= budget, "{} > {budget}", history.used());
        assert_eq!(history.received(), pushed);
        assert_eq!(
            history.evicted() + history.messages().len() as u64,
            pushed,
            "no message is lost uncounted"
        );
        assert!(history.evicted() > 0);
        assert_eq!(
            history.topics().values().map(|t| t.count).sum::<u64>(),
            pushed,
            "counts survive eviction"
        );
    }

    #[test]
    fn payloads_packed_into_shared_chunks_read_back_whole_across_chunk_boundaries() {
        let mut history = History::new(usize::MAX);
        // Sizes that do not divide a chunk: some payloads start a new chunk with room left over.
        let payloads: Vec<Vec<u8>> = (0..3000u32)
            .map(|i| {
                let len = (i as usize * 7919) % 2000;
                (0..len)
                    .map(|j| u8::try_from((i as usize + j) % 251).unwrap())
                    .collect()
            })
            .collect();
        for payload in &payloads {
            history.push(&message("t", payload.clone(), 0));
        }
        let total: usize = payloads.iter().map(Vec::len).sum();
        assert!(total > 2 * CHUNK, "the test spans chunks: {total}");
        let kept: Vec<&[u8]> = history.messages().map(|m| m.payload).collect();
        let sent: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        assert_eq!(kept, sent);
    }

    #[test]
    fn a_flood_reuses_the_chunks_its_evicted_messages_leave() {
        let budget = 4 * CHUNK;
        let mut history = History::new(budget);
        let payload = vec![b'x'; 150];
        for i in 0..(10 * budget / payload.len()) {
            history.push(&message(&format!("t/{}", i % 100), payload.clone(), 0));
        }
        assert!(history.evicted() > 0);
        // The budget's worth, the chunk being filled and the one being emptied.
        assert!(
            history.chunks_allocated() <= 6,
            "{} chunks for 10 budgets' worth",
            history.chunks_allocated()
        );
    }

    #[test]
    fn large_payloads_are_cut_at_ingest_and_keep_their_size() {
        let mut history = History::new(DEFAULT_BUDGET);
        history.push(&message("big", vec![7u8; 1024 * 1024], 0));
        let kept = history.messages().next().unwrap();
        assert_eq!(
            (kept.payload.len(), kept.size),
            (DISPLAY_LIMIT, 1024 * 1024)
        );
        assert!(kept.truncated());
        assert_eq!(history.truncated(), 1);
        assert!(history.used() < DISPLAY_LIMIT + 1024);
    }

    #[test]
    fn rates_count_messages_per_second_over_the_last_minute() {
        let mut history = History::new(DEFAULT_BUDGET);
        for (second, n) in [(100, 3), (101, 1), (130, 2)] {
            for _ in 0..n {
                history.push(&message("t", b"x".to_vec(), second));
            }
        }
        let stats = &history.topics()["t"];
        let rate = stats.rate(OffsetDateTime::from_unix_timestamp(130).unwrap());
        assert_eq!(rate.len(), RATE_SECONDS);
        assert_eq!(rate[RATE_SECONDS - 1], 2);
        assert_eq!(rate[RATE_SECONDS - 30], 1);
        assert_eq!(rate[RATE_SECONDS - 31], 3);
        let later = stats.rate(OffsetDateTime::from_unix_timestamp(200).unwrap());
        assert_eq!(
            later.iter().sum::<u32>(),
            0,
            "a quiet minute later the rate is zero"
        );
    }

    #[test]
    fn clear_forgets_messages_and_counts_them() {
        let mut history = History::new(DEFAULT_BUDGET);
        for _ in 0..5 {
            history.push(&message("t", b"abc".to_vec(), 0));
        }
        history.clear();
        assert_eq!(history.messages().len(), 0);
        assert_eq!(history.evicted(), 5);
        assert_eq!(history.topics()["t"].count, 5);
    }
}
