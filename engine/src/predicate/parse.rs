//! The recursive-descent parser: text -> [`Predicate`], with columns resolved and literals
//! typed against a [`Schema`].
//!
//! ```text
//! or      := and (OR and)*
//! and     := not (AND not)*
//! not     := NOT not | primary
//! primary := '(' or ')' | column test
//! test    := op literal | IS [NOT] NULL | [NOT] IN '(' literal (',' literal)* ')'
//! ```

use super::ast::{CompareOp, Literal, Predicate};
use super::lex::{Keyword, Kind, Lexer, SyntaxError, Token};
use super::literal::{type_literal, RawLiteral};
use crate::error::{Error, Result};
use crate::schema::Schema;

/// Deepest nesting of parentheses and NOTs the parser accepts (it recurses on them).
pub const NESTING_MAX: usize = 128;

type Parsed<T> = std::result::Result<T, SyntaxError>;

impl Predicate {
    /// Parses e.g. `a > 5 AND b IN ('x','y') OR NOT (c IS NULL)`, `d >= 1.5`, `e = true`,
    /// `s != 'it''s'`, resolving columns by name in `schema` and typing each literal
    /// against its column.
    ///
    /// - Column names are case-sensitive, bare (`amount`) or double-quoted (`"my col"`,
    ///   `""` for a quote inside); quote a column named like a keyword.
    /// - Keywords are case-insensitive: AND OR NOT IN IS NULL TRUE FALSE. NOT binds tighter
    ///   than AND, AND tighter than OR; parentheses group.
    /// - Operators: `=` (`==`), `!=` (`<>`), `<`, `<=`, `>`, `>=`, with the column on the left.
    /// - Literals: integers, decimals and floats (`1.5`, `-2`, `1e3`), `'strings'` (`''`
    ///   escapes a quote), TRUE / FALSE, and NULL inside an IN list. How each column type
    ///   takes literals: integer types take integers in their range; DECIMAL(p<=18, s) takes
    ///   a number with at most s fractional digits, stored unscaled; FLOAT / DOUBLE take
    ///   numbers; STRING / CHAR take strings; BOOLEAN takes TRUE / FALSE; DATE takes
    ///   `'YYYY-MM-DD'`; TIME takes `'HH:MM:SS[.fff]'`; TIMESTAMP / TIMESTAMP_LTZ take
    ///   `'YYYY-MM-DD HH:MM:SS[.fff]'` (UTC) or epoch millis. BYTES / BINARY only take
    ///   IS [NOT] NULL.
    ///
    /// Errors are [`Error::Parse`] with the byte position and what was expected and found.
    pub fn parse(text: &str, schema: &Schema) -> Result<Predicate> {
        let parsed = Parser::new(text, schema).and_then(Parser::parse_all);
        parsed.map_err(|e| Error::Parse { input: text.to_string(), position: e.position, reason: e.reason })
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The next unconsumed token.
    token: Token<'a>,
    schema: &'a Schema,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, schema: &'a Schema) -> Parsed<Self> {
        let mut lexer = Lexer::new(text);
        let token = lexer.next_token()?;
        Ok(Self { lexer, token, schema, depth: 0 })
    }

    fn parse_all(mut self) -> Parsed<Predicate> {
        let predicate = self.or()?;
        match self.token.kind {
            Kind::End => Ok(predicate),
            Kind::RParen => Err(self.unexpected("AND, OR or the end of the predicate (this ')' closes nothing)")),
            _ => Err(self.unexpected("AND, OR or the end of the predicate")),
        }
    }

    /// Consumes the current token, returning it.
    fn advance(&mut self) -> Parsed<Token<'a>> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.token, next))
    }

    fn eat_keyword(&mut self, keyword: Keyword) -> Parsed<bool> {
        if self.token.kind != Kind::Keyword(keyword) {
            return Ok(false);
        }
        self.advance()?;
        Ok(true)
    }

    fn unexpected(&self, expected: &str) -> SyntaxError {
        SyntaxError::new(self.token.position, format!("expected {expected}, found {}", self.token.describe()))
    }

    /// Runs `inner` one level deeper; `position` is where the level opens ('(' or NOT).
    fn nested<T>(&mut self, position: usize, inner: impl FnOnce(&mut Self) -> Parsed<T>) -> Parsed<T> {
        if self.depth >= NESTING_MAX {
            return Err(SyntaxError::new(position, format!("nesting deeper than {NESTING_MAX} levels")));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Parsed<Predicate> {
        let mut children = vec![self.and()?];
        while self.eat_keyword(Keyword::Or)? {
            children.push(self.and()?);
        }
        Ok(single_or(children, Predicate::Or))
    }

    fn and(&mut self) -> Parsed<Predicate> {
        let mut children = vec![self.not()?];
        while self.eat_keyword(Keyword::And)? {
            children.push(self.not()?);
        }
        Ok(single_or(children, Predicate::And))
    }

    fn not(&mut self) -> Parsed<Predicate> {
        let position = self.token.position;
        if self.eat_keyword(Keyword::Not)? {
            let inner = self.nested(position, Self::not)?;
            return Ok(Predicate::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Parsed<Predicate> {
        match &self.token.kind {
            Kind::LParen => {
                let open = self.advance()?;
                let inner = self.nested(open.position, Self::or)?;
                if self.token.kind != Kind::RParen {
                    let expected = format!("AND, OR or ')' to close the '(' at position {}", open.position);
                    return Err(self.unexpected(&expected));
                }
                self.advance()?;
                Ok(inner)
            }
            Kind::Ident(name) => {
                let name = name.clone();
                let column = self.resolve(&name)?;
                self.advance()?;
                self.test(column, &name)
            }
            _ => Err(self.unexpected("a column name, '(' or NOT")),
        }
    }

    /// The schema position of column `name` (the current token).
    fn resolve(&self, name: &str) -> Parsed<usize> {
        if let Some(index) = self.schema.index_of(name) {
            return Ok(index);
        }
        let similar = self.schema.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name));
        let hint = match similar {
            Some(c) => format!(" (did you mean '{}'? column names are case-sensitive)", c.name),
            None => String::new(),
        };
        Err(SyntaxError::new(self.token.position, format!("unknown column '{name}'{hint}")))
    }

    /// What follows a column: a comparison, IS [NOT] NULL or [NOT] IN.
    fn test(&mut self, column: usize, name: &str) -> Parsed<Predicate> {
        match self.token.kind {
            Kind::Op(op) => {
                let op_token = self.advance()?;
                let value = self.comparison_literal(column, name, op, op_token.text)?;
                Ok(Predicate::Compare { column, op, value })
            }
            Kind::Keyword(Keyword::Is) => {
                self.advance()?;
                let negated = self.eat_keyword(Keyword::Not)?;
                if !self.eat_keyword(Keyword::Null)? {
                    let expected = if negated { "NULL after IS NOT" } else { "NULL or NOT NULL after IS" };
                    return Err(self.unexpected(expected));
                }
                Ok(if negated { Predicate::IsNotNull { column } } else { Predicate::IsNull { column } })
            }
            Kind::Keyword(Keyword::In) => self.in_list(column, false),
            Kind::Keyword(Keyword::Not) => {
                self.advance()?;
                if self.token.kind != Kind::Keyword(Keyword::In) {
                    return Err(self.unexpected(&format!("IN after '{name} NOT'")));
                }
                self.in_list(column, true)
            }
            _ => Err(self.unexpected(&format!("a comparison operator, IS or IN after column '{name}'"))),
        }
    }

    fn comparison_literal(&mut self, column: usize, name: &str, op: CompareOp, op_text: &str) -> Parsed<Literal> {
        if self.token.kind == Kind::Keyword(Keyword::Null) {
            let fix = match op {
                CompareOp::NotEq => format!("'{name} IS NOT NULL'"),
                CompareOp::Eq => format!("'{name} IS NULL'"),
                _ => "IS NULL or IS NOT NULL".to_string(),
            };
            let reason = format!("a comparison with NULL is never true: use {fix}");
            return Err(SyntaxError::new(self.token.position, reason));
        }
        self.literal(column, &format!("after '{op_text}'"))
    }

    /// `[NOT] IN` is the current token: parses the parenthesized list.
    fn in_list(&mut self, column: usize, negated: bool) -> Parsed<Predicate> {
        self.advance()?;
        if self.token.kind != Kind::LParen {
            return Err(self.unexpected("'(' after IN"));
        }
        self.advance()?;
        let mut values = Vec::new();
        loop {
            if self.eat_keyword(Keyword::Null)? {
                values.push(Literal::Null);
            } else {
                values.push(self.literal(column, "in the IN list")?);
            }
            match self.advance()? {
                Token { kind: Kind::Comma, .. } => continue,
                Token { kind: Kind::RParen, .. } => return Ok(Predicate::In { column, values, negated }),
                token => {
                    let found = token.describe();
                    return Err(SyntaxError::new(
                        token.position,
                        format!("expected ',' or ')' in the IN list, found {found}"),
                    ));
                }
            }
        }
    }

    /// A non-NULL literal (the current token), typed against `column`; leaves the token
    /// after it current.
    fn literal(&mut self, column: usize, context: &str) -> Parsed<Literal> {
        let raw = match &self.token.kind {
            Kind::Number(text) => RawLiteral::Number(text),
            Kind::Str(text) => RawLiteral::Str(text.clone()),
            Kind::Keyword(Keyword::True) => RawLiteral::Bool(true),
            Kind::Keyword(Keyword::False) => RawLiteral::Bool(false),
            _ => return Err(self.unexpected(&format!("a literal (number, 'string', TRUE or FALSE) {context}"))),
        };
        let position = self.token.position;
        let Some(col) = self.schema.columns.get(column) else {
            return Err(SyntaxError::new(position, format!("column {column} is not in the schema")));
        };
        let value = type_literal(&raw, col).map_err(|reason| SyntaxError::new(position, reason))?;
        self.advance()?;
        Ok(value)
    }
}

/// The only child, or `wrap` of all of them.
fn single_or(mut children: Vec<Predicate>, wrap: fn(Vec<Predicate>) -> Predicate) -> Predicate {
    match children.pop() {
        Some(only) if children.is_empty() => only,
        Some(last) => {
            children.push(last);
            wrap(children)
        }
        None => wrap(children),
    }
}
