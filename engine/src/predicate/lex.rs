//! The lexer of the predicate syntax: one token at a time, each with its byte position.

use super::ast::CompareOp;

/// A reserved word (matched case-insensitively; quote a column to use one as a name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Keyword {
    And,
    Or,
    Not,
    In,
    Is,
    Null,
    True,
    False,
}

impl Keyword {
    /// The keyword spelled by `word`, if any.
    pub(super) fn of(word: &str) -> Option<Self> {
        const ALL: [(&str, Keyword); 8] = [
            ("AND", Keyword::And),
            ("OR", Keyword::Or),
            ("NOT", Keyword::Not),
            ("IN", Keyword::In),
            ("IS", Keyword::Is),
            ("NULL", Keyword::Null),
            ("TRUE", Keyword::True),
            ("FALSE", Keyword::False),
        ];
        ALL.iter().find(|(text, _)| word.eq_ignore_ascii_case(text)).map(|(_, k)| *k)
    }
}

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Kind<'a> {
    /// A column name, bare or double-quoted (unescaped).
    Ident(String),
    /// A number as written; its shape is checked here, its value when typed.
    Number(&'a str),
    /// A single-quoted string, unescaped.
    Str(String),
    Op(CompareOp),
    Keyword(Keyword),
    LParen,
    RParen,
    Comma,
    End,
}

/// A token: its kind, the byte position where it starts, and its source text.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind<'a>,
    pub(super) position: usize,
    pub(super) text: &'a str,
}

impl Token<'_> {
    /// How an error message names this token: `'text'` or `end of input`.
    pub(super) fn describe(&self) -> String {
        match self.kind {
            Kind::End => "end of input".to_string(),
            _ => format!("'{}'", self.text),
        }
    }
}

/// A syntax error: where and why.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SyntaxError {
    pub(super) position: usize,
    pub(super) reason: String,
}

impl SyntaxError {
    pub(super) fn new(position: usize, reason: impl Into<String>) -> Self {
        Self { position, reason: reason.into() }
    }
}

/// Splits predicate text into tokens on demand (so the first error by position wins).
pub(super) struct Lexer<'a> {
    text: &'a str,
    position: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self { text, position: 0 }
    }

    /// The next token; `Kind::End` (repeatedly) at the end of the text.
    pub(super) fn next_token(&mut self) -> Result<Token<'a>, SyntaxError> {
        self.skip_while(char::is_whitespace);
        let start = self.position;
        let Some(c) = self.peek(0) else {
            return Ok(Token { kind: Kind::End, position: start, text: "" });
        };
        let kind = match c {
            '(' => self.single(Kind::LParen),
            ')' => self.single(Kind::RParen),
            ',' => self.single(Kind::Comma),
            '\'' => Kind::Str(self.quoted('\'', "string")?),
            '"' => Kind::Ident(self.quoted('"', "quoted column name")?),
            '=' | '!' | '<' | '>' => Kind::Op(self.operator()?),
            _ if self.at_number() => Kind::Number(self.number()?),
            _ if c.is_alphabetic() || c == '_' => self.word(),
            _ => return Err(SyntaxError::new(start, format!("unexpected character '{c}'"))),
        };
        let text = self.text.get(start..self.position).unwrap_or_default();
        Ok(Token { kind, position: start, text })
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.text.get(self.position..)?.chars().nth(ahead)
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek(0)?;
        self.position += c.len_utf8();
        Some(c)
    }

    fn single(&mut self, kind: Kind<'a>) -> Kind<'a> {
        self.bump();
        kind
    }

    fn skip_while(&mut self, keep: impl Fn(char) -> bool) {
        while self.peek(0).is_some_and(&keep) {
            self.bump();
        }
    }

    /// Text between `quote`s, with a doubled quote standing for one.
    fn quoted(&mut self, quote: char, what: &str) -> Result<String, SyntaxError> {
        let start = self.position;
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(SyntaxError::new(start, format!("unterminated {what}: no closing {quote}"))),
                Some(c) if c == quote && self.peek(0) == Some(quote) => {
                    self.bump();
                    out.push(quote);
                }
                Some(c) if c == quote => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn operator(&mut self) -> Result<CompareOp, SyntaxError> {
        let start = self.position;
        let first = self.bump();
        let second = self.peek(0);
        let (op, two) = match (first, second) {
            (Some('='), Some('=')) => (CompareOp::Eq, true),
            (Some('='), _) => (CompareOp::Eq, false),
            (Some('!'), Some('=')) => (CompareOp::NotEq, true),
            (Some('<'), Some('>')) => (CompareOp::NotEq, true),
            (Some('<'), Some('=')) => (CompareOp::LtEq, true),
            (Some('<'), _) => (CompareOp::Lt, false),
            (Some('>'), Some('=')) => (CompareOp::GtEq, true),
            (Some('>'), _) => (CompareOp::Gt, false),
            _ => return Err(SyntaxError::new(start, "unexpected character '!' (did you mean '!='?)")),
        };
        if two {
            self.bump();
        }
        Ok(op)
    }

    /// A digit, or a sign or '.' followed by one (or a sign, '.', digit).
    fn at_number(&self) -> bool {
        let digit = |ahead| self.peek(ahead).is_some_and(|c: char| c.is_ascii_digit());
        let dot_digit = |ahead| self.peek(ahead) == Some('.') && digit(ahead + 1);
        match self.peek(0) {
            Some('-' | '+') => digit(1) || dot_digit(1),
            Some(c) => c.is_ascii_digit() || dot_digit(0),
            None => false,
        }
    }

    /// `[+-] digits [. digits] [(e|E) [+-] digits]`, not followed by a name character.
    fn number(&mut self) -> Result<&'a str, SyntaxError> {
        let start = self.position;
        if matches!(self.peek(0), Some('-' | '+')) {
            self.bump();
        }
        self.skip_while(|c| c.is_ascii_digit());
        if self.peek(0) == Some('.') {
            self.bump();
            self.skip_while(|c| c.is_ascii_digit());
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            self.bump();
            if matches!(self.peek(0), Some('-' | '+')) {
                self.bump();
            }
            if !self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                let text = self.text.get(start..self.position).unwrap_or_default();
                return Err(SyntaxError::new(
                    start,
                    format!("invalid number '{text}': expected digits after the exponent"),
                ));
            }
            self.skip_while(|c| c.is_ascii_digit());
        }
        if self.peek(0).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            self.skip_while(|c| c.is_alphanumeric() || c == '_' || c == '.');
            let text = self.text.get(start..self.position).unwrap_or_default();
            return Err(SyntaxError::new(start, format!("invalid number '{text}'")));
        }
        Ok(self.text.get(start..self.position).unwrap_or_default())
    }

    fn word(&mut self) -> Kind<'a> {
        let start = self.position;
        self.skip_while(|c| c.is_alphanumeric() || c == '_');
        let word = self.text.get(start..self.position).unwrap_or_default();
        match Keyword::of(word) {
            Some(keyword) => Kind::Keyword(keyword),
            None => Kind::Ident(word.to_string()),
        }
    }
}

/// True when `name` can be written bare: a word that is not a keyword.
pub(super) fn is_bare_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    first_ok && chars.all(|c| c.is_alphanumeric() || c == '_') && Keyword::of(name).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Result<Vec<Kind<'_>>, SyntaxError> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token()?;
            if token.kind == Kind::End {
                return Ok(out);
            }
            out.push(token.kind);
        }
    }

    #[test]
    fn splits_every_token_kind() {
        let got = kinds(r#"a >= -1.5e3 AND "my col" <> 'it''s' or (x) , not"#).expect("lexes");
        assert_eq!(
            got,
            vec![
                Kind::Ident("a".into()),
                Kind::Op(CompareOp::GtEq),
                Kind::Number("-1.5e3"),
                Kind::Keyword(Keyword::And),
                Kind::Ident("my col".into()),
                Kind::Op(CompareOp::NotEq),
                Kind::Str("it's".into()),
                Kind::Keyword(Keyword::Or),
                Kind::LParen,
                Kind::Ident("x".into()),
                Kind::RParen,
                Kind::Comma,
                Kind::Keyword(Keyword::Not),
            ]
        );
    }

    #[test]
    fn spells_every_operator() {
        let ops = kinds("= == != <> < <= > >=").expect("lexes");
        use CompareOp::*;
        let expected = [Eq, Eq, NotEq, NotEq, Lt, LtEq, Gt, GtEq].map(Kind::Op);
        assert_eq!(ops, expected.to_vec());
    }

    #[test]
    fn numbers_take_their_usual_shapes() {
        for text in ["0", "42", "-2", "+3", "1.5", ".5", "-.5", "5.", "1e3", "1E-3", "2.5e+10"] {
            assert_eq!(kinds(text), Ok(vec![Kind::Number(text)]), "{text}");
        }
        assert_eq!(kinds("a<-1"), Ok(vec![Kind::Ident("a".into()), Kind::Op(CompareOp::Lt), Kind::Number("-1")]));
    }

    #[test]
    fn reports_errors_with_positions() {
        assert_eq!(kinds("a = 'abc"), Err(SyntaxError::new(4, "unterminated string: no closing '")));
        assert_eq!(kinds("\"abc"), Err(SyntaxError::new(0, "unterminated quoted column name: no closing \"")));
        assert_eq!(kinds("a ; b"), Err(SyntaxError::new(2, "unexpected character ';'")));
        assert!(kinds("a ! b").is_err_and(|e| e.position == 2 && e.reason.contains("'!='")));
        assert_eq!(kinds("1e"), Err(SyntaxError::new(0, "invalid number '1e': expected digits after the exponent")));
        assert_eq!(kinds("x 12ab"), Err(SyntaxError::new(2, "invalid number '12ab'")));
        assert_eq!(kinds("1.2.3"), Err(SyntaxError::new(0, "invalid number '1.2.3'")));
        assert_eq!(kinds("a - b"), Err(SyntaxError::new(2, "unexpected character '-'")));
    }

    #[test]
    fn bare_names_exclude_keywords_and_symbols() {
        assert!(is_bare_name("amount_2"));
        assert!(is_bare_name("größe"));
        assert!(!is_bare_name("and"));
        assert!(!is_bare_name("Null"));
        assert!(!is_bare_name("my col"));
        assert!(!is_bare_name("2x"));
        assert!(!is_bare_name(""));
    }
}
