//! Fleet indexing query text to a tree: a lexer that keeps each token's position, then a
//! recursive-descent parser (`OR` binds loosest, then `AND`, explicit or implied by a space, then
//! `NOT` and `-`). Every error names the character where the query goes wrong.

use std::fmt;

/// AWS's limit on the terms of one query.
pub const MAX_TERMS: usize = 12;
/// AWS's limit on the length of a query with a leading wildcard.
pub const MAX_LEADING_WILDCARD_LENGTH: usize = 100;
/// How deep groups and NOTs may nest. AWS documents no such limit; twelve terms never need
/// more, and the parser (recursive descent) and the evaluator recurse once per level, so a
/// query of thousands of `(` or `NOT` is refused here rather than overflow the stack.
pub const MAX_DEPTH: usize = 32;

/// Characters AWS's query syntax does not support unescaped.
const UNSUPPORTED: &[char] = &['`', '@', '#', '%', '/', '\'', ';', ','];

/// A query that does not parse: what is wrong, at which character (1-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {column})")]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl QueryError {
    fn at(index: usize, message: impl Into<String>) -> Self {
        Self {
            column: index + 1,
            message: message.into(),
        }
    }

    /// The query and a caret under the faulty character, for a terminal or a log: every
    /// character a terminal could act on is shown as a space, so the caret stays in its column.
    #[must_use]
    pub fn pointer(&self, query: &str) -> String {
        let shown: String = query
            .chars()
            .map(|c| {
                if crate::untrusted::is_hazard(c) {
                    ' '
                } else {
                    c
                }
            })
            .collect();
        format!(
            "  {shown}\n  {}^",
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

/// A field of the index a term names; `Any` for a bare term, which searches every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Any,
    ThingName,
    ThingId,
    ThingTypeName,
    ThingGroupNames,
    Attribute(String),
    /// A value inside a shadow's section (`reported`, `desired`, `delta`); `shadow` is the named
    /// shadow, None for the classic one.
    Shadow {
        shadow: Option<String>,
        section: Section,
        path: Vec<String>,
    },
    HasDelta {
        shadow: Option<String>,
    },
    Connected,
    ConnectivityTimestamp,
    DisconnectReason,
}

/// A section of a shadow document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Reported,
    Desired,
    Delta,
}

impl Section {
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Reported => "reported",
            Self::Desired => "desired",
            Self::Delta => "delta",
        }
    }
}

const FIELDS_HELP: &str = "thingName, thingId, thingTypeName, thingGroupNames, attributes.NAME, \
     shadow.reported.PATH, shadow.desired.PATH, shadow.delta.PATH, shadow.hasDelta, \
     shadow.name.NAME.…, connectivity.connected, connectivity.timestamp, \
     connectivity.disconnectReason";

impl Field {
    fn parse(name: &str, at: usize) -> Result<Self, QueryError> {
        let unknown = || {
            QueryError::at(
                at,
                format!("'{name}' is not a field this index has; fields: {FIELDS_HELP}"),
            )
        };
        let field = match name {
            "thingName" => Self::ThingName,
            "thingId" => Self::ThingId,
            "thingTypeName" => Self::ThingTypeName,
            "thingGroupNames" => Self::ThingGroupNames,
            "connectivity.connected" => Self::Connected,
            "connectivity.timestamp" => Self::ConnectivityTimestamp,
            "connectivity.disconnectReason" => Self::DisconnectReason,
            _ => {
                if let Some(attribute) = name.strip_prefix("attributes.") {
                    if attribute.is_empty() {
                        return Err(unknown());
                    }
                    return Ok(Self::Attribute(attribute.to_owned()));
                }
                let Some(rest) = name.strip_prefix("shadow.") else {
                    return Err(unknown());
                };
                let (shadow, rest) = match rest.strip_prefix("name.") {
                    Some(named) => {
                        let (shadow, rest) = named.split_once('.').ok_or_else(unknown)?;
                        (Some(shadow.to_owned()), rest)
                    }
                    None => (None, rest),
                };
                if rest == "hasDelta" {
                    return Ok(Self::HasDelta { shadow });
                }
                let mut parts = rest.split('.');
                let section = match parts.next() {
                    Some("reported") => Section::Reported,
                    Some("desired") => Section::Desired,
                    Some("delta") => Section::Delta,
                    _ => return Err(unknown()),
                };
                let path: Vec<String> = parts.map(str::to_owned).collect();
                if path.is_empty() || path.iter().any(String::is_empty) {
                    return Err(unknown());
                }
                Self::Shadow {
                    shadow,
                    section,
                    path,
                }
            }
        };
        Ok(field)
    }
}

/// One character of a term: itself, or a wildcard (`*` any run, `?` any one character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Char(char),
    Star,
    One,
}

/// One end of a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Open,
    Included(String),
    Excluded(String),
}

/// What a term asks of a field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// A word, with wildcards: the whole value matches it.
    Pattern(Vec<Piece>),
    /// A quoted phrase: the whole value equals it.
    Phrase(String),
    Range {
        lower: Bound,
        upper: Bound,
    },
}

/// A query as a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Term { field: Field, test: Test },
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub root: Node,
}

impl Query {
    /// Parses a query string as AWS fleet indexing reads it.
    pub fn parse(text: &str) -> Result<Self, QueryError> {
        let tokens = lex(text)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end: text.chars().count(),
            terms: 0,
            leading_wildcards: 0,
            depth: 0,
        };
        if parser.tokens.is_empty() {
            return Err(QueryError::at(0, "the query is empty"));
        }
        let root = parser.or(None)?;
        if let Some((token, at)) = parser.tokens.get(parser.next) {
            let message = if *token == Token::RParen {
                "')' closes nothing".to_owned()
            } else {
                format!("unexpected {token}")
            };
            return Err(QueryError::at(*at, message));
        }
        if parser.leading_wildcards > 0 && parser.end > MAX_LEADING_WILDCARD_LENGTH {
            return Err(QueryError::at(
                MAX_LEADING_WILDCARD_LENGTH,
                format!(
                    "a query with a leading wildcard may be at most \
                     {MAX_LEADING_WILDCARD_LENGTH} characters; this one has {}",
                    parser.end
                ),
            ));
        }
        Ok(Self { root })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    LParen,
    RParen,
    LBracket,
    LBrace,
    RBracket,
    RBrace,
    Colon,
    Compare(Compare),
    Minus,
    And,
    Or,
    Not,
    To,
    Word(Vec<Piece>),
    Phrase(String),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LParen => f.write_str("'('"),
            Self::RParen => f.write_str("')'"),
            Self::LBracket => f.write_str("'['"),
            Self::LBrace => f.write_str("'{'"),
            Self::RBracket => f.write_str("']'"),
            Self::RBrace => f.write_str("'}'"),
            Self::Colon => f.write_str("':'"),
            Self::Compare(_) => f.write_str("a comparison"),
            Self::Minus => f.write_str("'-'"),
            Self::And => f.write_str("AND"),
            Self::Or => f.write_str("OR"),
            Self::Not => f.write_str("NOT"),
            Self::To => f.write_str("TO"),
            Self::Word(pieces) => write!(f, "'{}'", text_of(pieces)),
            Self::Phrase(text) => write!(f, "\"{text}\""),
        }
    }
}

fn text_of(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Char(c) => *c,
            Piece::Star => '*',
            Piece::One => '?',
        })
        .collect()
}

fn ends_word(c: char) -> bool {
    c.is_whitespace() || "()[]{}:<>\"".contains(c)
}

fn lex(text: &str) -> Result<Vec<(Token, usize)>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let single = match c {
            _ if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Some(Token::LParen),
            ')' => Some(Token::RParen),
            '[' => Some(Token::LBracket),
            '{' => Some(Token::LBrace),
            ']' => Some(Token::RBracket),
            '}' => Some(Token::RBrace),
            ':' => Some(Token::Colon),
            '<' | '>' => {
                let equal = chars.get(i + 1) == Some(&'=');
                let compare = match (c, equal) {
                    ('<', false) => Compare::Less,
                    ('<', true) => Compare::LessOrEqual,
                    (_, false) => Compare::Greater,
                    (_, true) => Compare::GreaterOrEqual,
                };
                i += 1 + usize::from(equal);
                tokens.push((Token::Compare(compare), start));
                continue;
            }
            '-' if chars.get(i + 1).is_some_and(|n| !n.is_whitespace())
                && (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(') =>
            {
                Some(Token::Minus)
            }
            _ => None,
        };
        if let Some(token) = single {
            tokens.push((token, start));
            i += 1;
            continue;
        }
        let token = if c == '"' {
            lex_phrase(&chars, &mut i)?
        } else {
            lex_word(&chars, &mut i)?
        };
        tokens.push((token, start));
    }
    Ok(tokens)
}

/// A quoted phrase from `chars[*i]` (the quote) on; `*i` ends past the closing quote.
fn lex_phrase(chars: &[char], i: &mut usize) -> Result<Token, QueryError> {
    let start = *i;
    let mut phrase = String::new();
    *i += 1;
    loop {
        match chars.get(*i) {
            None => return Err(QueryError::at(start, "this quote is never closed")),
            Some('"') => break,
            Some('\\') if *i + 1 < chars.len() => {
                phrase.push(chars[*i + 1]);
                *i += 2;
            }
            Some(c) => {
                phrase.push(*c);
                *i += 1;
            }
        }
    }
    *i += 1;
    Ok(Token::Phrase(phrase))
}

/// A word (or a keyword) from `chars[*i]` on, with its wildcards and escapes.
fn lex_word(chars: &[char], i: &mut usize) -> Result<Token, QueryError> {
    let mut pieces = Vec::new();
    let mut escaped_any = false;
    while *i < chars.len() && !ends_word(chars[*i]) {
        let c = chars[*i];
        match c {
            '\\' => {
                let Some(next) = chars.get(*i + 1) else {
                    return Err(QueryError::at(*i, "'\\' escapes nothing at the end"));
                };
                pieces.push(Piece::Char(*next));
                escaped_any = true;
                *i += 2;
                continue;
            }
            '*' => pieces.push(Piece::Star),
            '?' => pieces.push(Piece::One),
            _ if UNSUPPORTED.contains(&c) => {
                return Err(QueryError::at(
                    *i,
                    format!("AWS fleet indexing does not support '{c}' in a query"),
                ));
            }
            _ => pieces.push(Piece::Char(c)),
        }
        *i += 1;
    }
    let keyword = if escaped_any {
        None
    } else {
        match text_of(&pieces).as_str() {
            "AND" | "&&" => Some(Token::And),
            "OR" | "||" => Some(Token::Or),
            "NOT" => Some(Token::Not),
            "TO" => Some(Token::To),
            _ => None,
        }
    };
    Ok(keyword.unwrap_or(Token::Word(pieces)))
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    next: usize,
    end: usize,
    terms: usize,
    leading_wildcards: usize,
    /// Groups and NOTs open around the token being read.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(t, _)| t)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Token> {
        self.tokens.get(self.next + ahead).map(|(t, _)| t)
    }

    /// Where the next token starts (the end of the query when there is none).
    fn here(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(_, at)| *at)
    }

    fn take(&mut self) -> Option<(Token, usize)> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    /// One more level of nesting, at `at`; refused past `MAX_DEPTH`.
    fn deeper(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::at(
                at,
                format!(
                    "the query nests groups and NOTs more than {MAX_DEPTH} deep here; write it flatter"
                ),
            ));
        }
        Ok(())
    }

    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end of the query".to_owned(), ToString::to_string)
    }

    fn or(&mut self, field: Option<&Field>) -> Result<Node, QueryError> {
        let mut parts = vec![self.and(field)?];
        while self.peek() == Some(&Token::Or) {
            self.next += 1;
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::Or(parts)
        })
    }

    fn and(&mut self, field: Option<&Field>) -> Result<Node, QueryError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            match self.peek() {
                None | Some(Token::RParen | Token::Or) => break,
                Some(Token::And) => {
                    self.next += 1;
                    parts.push(self.unary(field)?);
                }
                Some(_) => parts.push(self.unary(field)?),
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Node::And(parts)
        })
    }

    fn unary(&mut self, field: Option<&Field>) -> Result<Node, QueryError> {
        match self.peek() {
            Some(Token::Not | Token::Minus) => {
                self.deeper(self.here())?;
                self.next += 1;
                let inner = self.unary(field)?;
                self.depth -= 1;
                Ok(Node::Not(Box::new(inner)))
            }
            _ => self.primary(field),
        }
    }

    fn primary(&mut self, field: Option<&Field>) -> Result<Node, QueryError> {
        let at = self.here();
        match (self.peek().cloned(), self.peek_at(1)) {
            (Some(Token::LParen), _) => self.group(field),
            (Some(Token::Word(name)), Some(Token::Colon | Token::Compare(_))) => {
                if field.is_some() {
                    return Err(QueryError::at(
                        at,
                        "a field cannot be named inside a field's group",
                    ));
                }
                let field = Field::parse(&text_of(&name), at)?;
                self.next += 1;
                match self.take() {
                    Some((Token::Compare(compare), _)) => {
                        let value = self.bound_value()?;
                        let (lower, upper) = match compare {
                            Compare::Less => (Bound::Open, Bound::Excluded(value)),
                            Compare::LessOrEqual => (Bound::Open, Bound::Included(value)),
                            Compare::Greater => (Bound::Excluded(value), Bound::Open),
                            Compare::GreaterOrEqual => (Bound::Included(value), Bound::Open),
                        };
                        self.term(at, field, Test::Range { lower, upper })
                    }
                    _ => self.value(&field),
                }
            }
            (Some(Token::Word(_) | Token::Phrase(_) | Token::LBracket | Token::LBrace), _) => {
                let field = field.cloned().unwrap_or(Field::Any);
                self.value(&field)
            }
            (Some(Token::Colon), _) => Err(QueryError::at(
                at,
                "':' needs a field name before it (escape it as '\\:' to search for it)",
            )),
            _ => Err(QueryError::at(
                at,
                format!("expected a term, found {}", self.found()),
            )),
        }
    }

    fn group(&mut self, field: Option<&Field>) -> Result<Node, QueryError> {
        self.deeper(self.here())?;
        let (_, open) = self.take().expect("the caller saw '('");
        let inner = self.or(field)?;
        self.depth -= 1;
        match self.take() {
            Some((Token::RParen, _)) => Ok(inner),
            _ => Err(QueryError::at(open, "this '(' is never closed")),
        }
    }

    /// The value after `field:`: a word, a phrase, a range or a group of them.
    fn value(&mut self, field: &Field) -> Result<Node, QueryError> {
        let at = self.here();
        match self.peek().cloned() {
            Some(Token::LParen) => self.group(Some(field)),
            Some(Token::LBracket | Token::LBrace) => self.range(field),
            Some(Token::Word(pieces)) => {
                self.next += 1;
                if pieces.len() > 1 && matches!(pieces[0], Piece::Star | Piece::One) {
                    self.leading_wildcards += 1;
                    if self.leading_wildcards > 1 {
                        return Err(QueryError::at(
                            at,
                            "AWS fleet indexing allows a leading wildcard in one term of a query",
                        ));
                    }
                }
                self.term(at, field.clone(), Test::Pattern(pieces))
            }
            Some(Token::Phrase(text)) => {
                self.next += 1;
                self.term(at, field.clone(), Test::Phrase(text))
            }
            _ => Err(QueryError::at(
                at,
                format!("expected a value, found {}", self.found()),
            )),
        }
    }

    fn range(&mut self, field: &Field) -> Result<Node, QueryError> {
        let (open, at) = self.take().expect("the caller saw '[' or '{'");
        let inclusive_low = open == Token::LBracket;
        let low = self.bound_value()?;
        match self.take() {
            Some((Token::To, _)) => {}
            other => {
                return Err(QueryError::at(
                    other.map_or(self.end, |(_, at)| at),
                    "a range is written [LOW TO HIGH]",
                ));
            }
        }
        let high = self.bound_value()?;
        let inclusive_high = match self.take() {
            Some((Token::RBracket, _)) => true,
            Some((Token::RBrace, _)) => false,
            _ => {
                return Err(QueryError::at(
                    at,
                    "this range is never closed by ']' or '}'",
                ));
            }
        };
        let bound = |value: String, inclusive: bool| match (value.as_str(), inclusive) {
            ("*", _) => Bound::Open,
            (_, true) => Bound::Included(value),
            (_, false) => Bound::Excluded(value),
        };
        let test = Test::Range {
            lower: bound(low, inclusive_low),
            upper: bound(high, inclusive_high),
        };
        self.term(at, field.clone(), test)
    }

    /// A range's end or a comparison's value: a word (`-` allowed before it) or a phrase.
    fn bound_value(&mut self) -> Result<String, QueryError> {
        let at = self.here();
        let negative = self.peek() == Some(&Token::Minus);
        if negative {
            self.next += 1;
        }
        match self.take() {
            Some((Token::Word(pieces), _)) => {
                let text = text_of(&pieces);
                Ok(if negative { format!("-{text}") } else { text })
            }
            Some((Token::Phrase(text), _)) if !negative => Ok(text),
            _ => Err(QueryError::at(at, "expected a value here")),
        }
    }

    fn term(&mut self, at: usize, field: Field, test: Test) -> Result<Node, QueryError> {
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(QueryError::at(
                at,
                format!("AWS fleet indexing allows at most {MAX_TERMS} terms in a query"),
            ));
        }
        Ok(Node::Term { field, test })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> Test {
        Test::Pattern(
            text.chars()
                .map(|c| match c {
                    '*' => Piece::Star,
                    '?' => Piece::One,
                    c => Piece::Char(c),
                })
                .collect(),
        )
    }

    fn term(field: Field, text: &str) -> Node {
        Node::Term {
            field,
            test: word(text),
        }
    }

    #[test]
    fn fields_operators_and_implied_and() {
        let query =
            Query::parse("attributes.site:plant-north AND connectivity.connected:true").unwrap();
        assert_eq!(
            query.root,
            Node::And(vec![
                term(Field::Attribute("site".into()), "plant-north"),
                term(Field::Connected, "true"),
            ])
        );
        let query = Query::parse("thingName:pump* thingTypeName:camera OR -abc").unwrap();
        assert_eq!(
            query.root,
            Node::Or(vec![
                Node::And(vec![
                    term(Field::ThingName, "pump*"),
                    term(Field::ThingTypeName, "camera"),
                ]),
                Node::Not(Box::new(term(Field::Any, "abc"))),
            ])
        );
        // A hyphen inside a word is part of it; NOT between terms is AND NOT.
        let query = Query::parse("thingName:pump-02 NOT attributes.a>10").unwrap();
        assert_eq!(
            query.root,
            Node::And(vec![
                term(Field::ThingName, "pump-02"),
                Node::Not(Box::new(Node::Term {
                    field: Field::Attribute("a".into()),
                    test: Test::Range {
                        lower: Bound::Excluded("10".into()),
                        upper: Bound::Open
                    }
                })),
            ])
        );
    }

    #[test]
    fn field_groups_ranges_phrases_and_shadow_fields() {
        let query = Query::parse("thingName:(tv* AND -plasma)").unwrap();
        assert_eq!(
            query.root,
            Node::And(vec![
                term(Field::ThingName, "tv*"),
                Node::Not(Box::new(term(Field::ThingName, "plasma"))),
            ])
        );
        let query =
            Query::parse("attributes.n:{75 TO 80] shadow.reported.fw:\"2.4 beta\"").unwrap();
        assert_eq!(
            query.root,
            Node::And(vec![
                Node::Term {
                    field: Field::Attribute("n".into()),
                    test: Test::Range {
                        lower: Bound::Excluded("75".into()),
                        upper: Bound::Included("80".into())
                    }
                },
                Node::Term {
                    field: Field::Shadow {
                        shadow: None,
                        section: Section::Reported,
                        path: vec!["fw".into()]
                    },
                    test: Test::Phrase("2.4 beta".into())
                },
            ])
        );
        let query = Query::parse("shadow.name.config.desired.a.b:[* TO -5]").unwrap();
        assert!(matches!(
            query.root,
            Node::Term {
                field: Field::Shadow { shadow: Some(ref s), section: Section::Desired, ref path },
                test: Test::Range { lower: Bound::Open, upper: Bound::Included(ref high) },
            } if s == "config" && path == &["a", "b"] && high == "-5"
        ));
        assert_eq!(
            Query::parse("shadow.hasDelta:true").unwrap().root,
            term(Field::HasDelta { shadow: None }, "true")
        );
        assert_eq!(
            Query::parse(r"thingName:a\:b\*").unwrap().root,
            Node::Term {
                field: Field::ThingName,
                test: Test::Pattern(vec![
                    Piece::Char('a'),
                    Piece::Char(':'),
                    Piece::Char('b'),
                    Piece::Char('*')
                ])
            }
        );
    }

    #[test]
    fn errors_say_where() {
        let error = |q: &str| Query::parse(q).unwrap_err();
        let e = error("attributes.site:plant-north AND (connectivity.connected:true");
        assert_eq!(e.column, 33, "{e}");
        assert!(e.message.contains("never closed"), "{e}");
        assert_eq!(
            e.pointer("attributes.site:plant-north AND (connectivity.connected:true")
                .lines()
                .nth(1),
            Some(&*format!("  {}^", " ".repeat(32)))
        );
        let e = error("site:plant-north");
        assert_eq!(e.column, 1);
        assert!(e.message.contains("'site' is not a field"), "{e}");
        let e = error("thingName:pump AND");
        assert_eq!(
            (e.column, e.message.as_str()),
            (19, "expected a term, found the end of the query")
        );
        let e = error("thingName:");
        assert_eq!(e.column, 11, "{e}");
        let e = error("attributes.n:[1 2]");
        assert!(e.message.contains("[LOW TO HIGH]"), "{e}");
        let e = error("a b)");
        assert_eq!((e.column, e.message.as_str()), (4, "')' closes nothing"));
        let e = error("thingName:pump@1");
        assert_eq!(e.column, 15, "{e}");
        let e = error("thingName:*a thingTypeName:*b");
        assert_eq!(e.column, 28, "{e}");
        let e = error("\"open");
        assert_eq!(e.column, 1);
        assert!(error("").message.contains("empty"));
        let many = (0..13)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let e = error(&many);
        assert!(e.message.contains("at most 12 terms"), "{e}");
        let long = format!("thingName:*a {}", "x".repeat(100));
        assert!(error(&long).message.contains("at most 100 characters"));
    }

    #[test]
    fn nesting_past_the_depth_is_refused_where_it_goes_too_deep_not_overflowed() {
        let error = |q: &str| Query::parse(q).unwrap_err();
        // The issue's queries: 2,000 nested parentheses, 20,000 NOTs (each aborted the core).
        let parens = format!("{}pump{}", "(".repeat(2000), ")".repeat(2000));
        let e = error(&parens);
        assert!(e.message.contains("more than 32 deep"), "{e}");
        assert_eq!(e.column, MAX_DEPTH + 1);
        let nots = format!("{}pump", "NOT ".repeat(20_000));
        let e = error(&nots);
        assert!(e.message.contains("more than 32 deep"), "{e}");
        assert_eq!(e.column, MAX_DEPTH * 4 + 1);
        // As deep as allowed still parses.
        let deepest = format!("{}pump{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(Query::parse(&deepest).is_ok());
    }
}
