//! The `where` and `order` query parameters: the subset of Xero's LINQ-like syntax clients use.
//!
//! Supported: `Field=="text"` (case-sensitive, as in Xero), `!=`, `Field.ToLower()=="text"`, `.ToUpper()`,
//! `.Contains("x")`, `.StartsWith("x")`, `.EndsWith("x")`, nested fields (`SalesDetails.AccountCode`),
//! booleans (`IsSold==true`, bare `IsSold`, `!IsSold`), `Guid("…")`, `AND`/`&&`, `OR`/`||` and parentheses.
//! Evaluated against the JSON representation Xero returns.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Dot,
    Open,
    Close,
    Eq,
    Ne,
    And,
    Or,
    Not,
}

fn tokenize(text: &str) -> Result<Vec<Token>, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            _ if c.is_whitespace() => i += 1,
            '.' => {
                tokens.push(Token::Dot);
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '=' if next == Some('=') => {
                tokens.push(Token::Eq);
                i += 2;
            }
            '!' if next == Some('=') => {
                tokens.push(Token::Ne);
                i += 2;
            }
            '!' => {
                tokens.push(Token::Not);
                i += 1;
            }
            '&' if next == Some('&') => {
                tokens.push(Token::And);
                i += 2;
            }
            '|' if next == Some('|') => {
                tokens.push(Token::Or);
                i += 2;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(QueryError("Unterminated string literal".into())),
                        Some('"') => break,
                        Some('\\') if chars.get(i + 1).is_some() => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push(Token::Str(s));
            }
            _ if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|ch| ch.is_ascii_digit() || *ch == '.') {
                    i += 1;
                }
                let literal: String = chars[start..i].iter().collect();
                let n = literal.parse().map_err(|_| QueryError(format!("Invalid number '{literal}'")))?;
                tokens.push(Token::Num(n));
            }
            _ if c.is_alphabetic() || c == '_' => {
                let start = i;
                while chars.get(i).is_some_and(|ch| ch.is_alphanumeric() || *ch == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.to_ascii_uppercase().as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    _ => Token::Ident(word),
                });
            }
            _ => return Err(QueryError(format!("Syntax error '{c}'"))),
        }
    }
    Ok(tokens)
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare { lhs: Operand, equal: bool, rhs: Value },
    Truthy(Operand),
}

#[derive(Debug, Clone, PartialEq)]
struct Operand {
    path: Vec<String>,
    /// Method calls applied in order, e.g. `ToLower()` or `Contains("x")`.
    calls: Vec<(String, Option<String>)>,
}

/// A parsed `where` filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter(Expr);

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    entity: &'a str,
    fields: &'a [&'a str],
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn bump(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn expect(&mut self, token: &Token) -> Result<(), QueryError> {
        match self.bump() {
            Some(t) if &t == token => Ok(()),
            other => Err(QueryError(format!("Expected {token:?}, found {other:?}"))),
        }
    }

    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, QueryError> {
        match self.peek() {
            Some(Token::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                self.expect(&Token::Close)?;
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Expr, QueryError> {
        let lhs = self.operand()?;
        let equal = match self.peek() {
            Some(Token::Eq) => true,
            Some(Token::Ne) => false,
            _ => return Ok(Expr::Truthy(lhs)),
        };
        self.pos += 1;
        let rhs = self.literal()?;
        Ok(Expr::Compare { lhs, equal, rhs })
    }

    fn operand(&mut self) -> Result<Operand, QueryError> {
        let Some(Token::Ident(first)) = self.bump() else {
            return Err(QueryError("Expression expected".into()));
        };
        if !self.fields.iter().any(|f| f.eq_ignore_ascii_case(&first)) {
            return Err(QueryError(format!("No property or field '{first}' exists in type '{}'", self.entity)));
        }
        let mut operand = Operand { path: vec![first], calls: Vec::new() };
        while self.peek() == Some(&Token::Dot) {
            self.pos += 1;
            let Some(Token::Ident(name)) = self.bump() else {
                return Err(QueryError("Identifier expected".into()));
            };
            if self.peek() != Some(&Token::Open) {
                operand.path.push(name);
                continue;
            }
            self.pos += 1;
            let argument = match self.peek() {
                Some(Token::Close) => None,
                _ => match self.literal()? {
                    Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                },
            };
            self.expect(&Token::Close)?;
            let known = ["ToLower", "ToUpper", "Contains", "StartsWith", "EndsWith"];
            if !known.contains(&name.as_str()) || argument.is_some() == name.starts_with("To") {
                return Err(QueryError(format!("No applicable method '{name}' exists in type 'String'")));
            }
            operand.calls.push((name, argument));
        }
        Ok(operand)
    }

    fn literal(&mut self) -> Result<Value, QueryError> {
        match self.bump() {
            Some(Token::Str(s)) => Ok(Value::String(s)),
            Some(Token::Num(n)) => Ok(serde_json::json!(n)),
            Some(Token::Ident(word)) => match word.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                "Guid" => {
                    self.expect(&Token::Open)?;
                    let Some(Token::Str(id)) = self.bump() else {
                        return Err(QueryError("Guid literal expected".into()));
                    };
                    self.expect(&Token::Close)?;
                    Ok(Value::String(id.to_ascii_lowercase()))
                }
                _ => Err(QueryError(format!("No property or field '{word}' exists in type '{}'", self.entity))),
            },
            other => Err(QueryError(format!("Literal expected, found {other:?}"))),
        }
    }
}

impl Filter {
    /// Parses `text` for an entity (`Item`, `TaxRate`, `Account`) whose top-level fields are `fields`.
    pub fn parse(text: &str, entity: &str, fields: &[&str]) -> Result<Filter, QueryError> {
        let mut parser = Parser { tokens: tokenize(text)?, pos: 0, entity, fields };
        let expr = parser.or()?;
        if parser.pos < parser.tokens.len() {
            return Err(QueryError(format!("Syntax error at token {}", parser.pos + 1)));
        }
        Ok(Filter(expr))
    }

    pub fn matches(&self, record: &Value) -> bool {
        eval(&self.0, record)
    }
}

fn eval(expr: &Expr, record: &Value) -> bool {
    match expr {
        Expr::And(a, b) => eval(a, record) && eval(b, record),
        Expr::Or(a, b) => eval(a, record) || eval(b, record),
        Expr::Not(e) => !eval(e, record),
        Expr::Truthy(operand) => resolve(operand, record) == Value::Bool(true),
        Expr::Compare { lhs, equal, rhs } => {
            let value = resolve(lhs, record);
            let same = match (&value, rhs) {
                (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                (a, b) => a == b,
            };
            same == *equal
        }
    }
}

fn lookup<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn resolve(operand: &Operand, record: &Value) -> Value {
    let mut value = Some(record);
    for key in &operand.path {
        value = value.and_then(|v| lookup(v, key));
    }
    let mut value = value.cloned().unwrap_or(Value::Null);
    for (name, argument) in &operand.calls {
        let text = value.as_str().unwrap_or_default().to_string();
        let argument = argument.as_deref().unwrap_or_default();
        value = match name.as_str() {
            "ToLower" => Value::String(text.to_lowercase()),
            "ToUpper" => Value::String(text.to_uppercase()),
            "Contains" => Value::Bool(text.contains(argument)),
            "StartsWith" => Value::Bool(text.starts_with(argument)),
            _ => Value::Bool(text.ends_with(argument)),
        };
    }
    value
}

/// Sorts by `order` (`Code ASC, Name DESC`); strings compare case-insensitively, like Xero's database.
pub fn sort(records: &mut [Value], order: &str, entity: &str, fields: &[&str]) -> Result<(), QueryError> {
    let mut keys = Vec::new();
    for clause in order.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let mut words = clause.split_whitespace();
        let field = words.next().unwrap_or_default();
        if !fields.iter().any(|f| f.eq_ignore_ascii_case(field)) {
            return Err(QueryError(format!("No property or field '{field}' exists in type '{entity}'")));
        }
        let descending = match words.next().map(str::to_ascii_uppercase).as_deref() {
            None | Some("ASC") => false,
            Some("DESC") => true,
            Some(other) => return Err(QueryError(format!("Syntax error '{other}'"))),
        };
        keys.push((field.to_string(), descending));
    }
    records.sort_by(|a, b| {
        keys.iter()
            .map(|(field, descending)| {
                let ordering = compare(lookup(a, field), lookup(b, field));
                if *descending { ordering.reverse() } else { ordering }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(())
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(std::cmp::Ordering::Equal)
        }
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (None, Some(_)) => std::cmp::Ordering::Less,
        (Some(_), None) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[&str] = &["Code", "IsSold", "SalesDetails"];

    fn check(filter: &str, record: &Value) -> bool {
        Filter::parse(filter, "Item", FIELDS).expect(filter).matches(record)
    }

    #[test]
    fn code_equality_is_case_sensitive_unless_lowered() {
        let item = json!({"Code": "DevD", "IsSold": true, "SalesDetails": {"AccountCode": "200"}});
        assert!(check(r#"Code=="DevD""#, &item));
        assert!(!check(r#"Code=="devd""#, &item));
        assert!(check(r#"Code.ToLower()=="devd""#, &item));
        assert!(check(r#"IsSold==true AND SalesDetails.AccountCode=="200""#, &item));
        assert!(check(r#"!IsSold || Code.StartsWith("De")"#, &item));
        assert!(!check(r#"(Code!="DevD")"#, &item));
    }

    #[test]
    fn unknown_fields_and_bad_syntax_fail() {
        assert!(Filter::parse(r#"Colour=="red""#, "Item", FIELDS).is_err());
        assert!(Filter::parse(r#"Code=="x"#, "Item", FIELDS).is_err());
        assert!(Filter::parse(r#"Code.Frobnicate()"#, "Item", FIELDS).is_err());
    }

    #[test]
    fn orders_case_insensitively() {
        let mut list = vec![json!({"Code": "b"}), json!({"Code": "A"}), json!({"Code": "c"})];
        sort(&mut list, "Code DESC", "Item", FIELDS).expect("order");
        let codes: Vec<_> = list.iter().map(|v| v["Code"].as_str().unwrap_or_default()).collect();
        assert_eq!(codes, ["c", "b", "A"]);
    }
}
