//! Unit tests of the query language; tests/query_oracle.rs compares with simpleeval itself.

use super::*;
use crate::metadata::load_data;

const MIGRATED: &str = r#"
data:
  name: Source X
  connectorType: source
  dockerRepository: airbyte/source-x
  dockerImageTag: 1.2.3
  supportLevel: certified
  releaseDate: 2023-01-01
  nullable: null
  empty_list: []
  empty_map: {}
  connectorBuildOptions:
    baseImage: docker.io/airbyte/python-connector-base:1.1.0@sha256:bd98f6505c6764b1b5f99d3aedc23dfc9e9af631a62533f60eb32b1d3dbab20c
  ab_internal:
    sl: 300
    ql: 400
    ratio: 0.75
  tags:
    - language:python
    - cdk:low-code
  flags:
    enabled: true
    disabled: false
  numbered:
    1: one
"#;

const NOT_MIGRATED: &str = r#"
data:
  name: Source Y
  supportLevel: certified
  ab_internal:
    sl: 100
    ql: 200
  tags:
    - language:java
"#;

fn run(query: &str, yaml: &str) -> Result<bool, EvalError> {
    let query = Query::parse(query).unwrap_or_else(|e| panic!("{query:?} should parse: {e}"));
    query.matches(Some(&load_data(yaml).expect("test YAML loads")))
}

fn m(query: &str) -> bool {
    run(query, MIGRATED).unwrap_or_else(|e| panic!("{query:?} should evaluate: {e}"))
}

fn raised(query: &str) -> &'static str {
    match run(query, MIGRATED) {
        Err(e) => e.kind,
        Ok(v) => panic!("{query:?} should raise, got {v}"),
    }
}

fn syntax(query: &str) -> (usize, String) {
    match Query::parse(query) {
        Err(e) => (e.column, e.message),
        Ok(_) => panic!("{query:?} should not parse"),
    }
}

#[test]
fn seed_queries() {
    let migrated = "data.connectorBuildOptions.baseImage is not None";
    let not_migrated = "data.supportLevel == 'certified' and 'connectorBuildOptions' not in data.keys()";
    assert_eq!(run(migrated, MIGRATED), Ok(true));
    // A missing key raises, as in airbyte-ci: no match either way.
    assert_eq!(run(migrated, NOT_MIGRATED).unwrap_err().kind, "AttributeDoesNotExist");
    assert_eq!(run(not_migrated, NOT_MIGRATED), Ok(true));
    assert_eq!(run(not_migrated, MIGRATED), Ok(false));
    assert_eq!(Query::parse(migrated).unwrap().matches(None).unwrap_err().kind, NOT_LOADED);
}

#[test]
fn python_operators() {
    assert!(m("(data.ab_internal.ql > 100) & (data.ab_internal.sl < 400)"));
    assert!(!m("(data.ab_internal.ql > 100) & (data.ab_internal.sl < 200)"));
    assert!(m("(data.ab_internal.ql > 500) | (data.ab_internal.sl == 300)"));
    assert!(m("100 < data.ab_internal.ql < 401"));
    assert!(!m("100 < data.ab_internal.ql < 400"));
    assert!(m("data.ab_internal.ql + data.ab_internal.sl == 700"));
    assert!(m("data.ab_internal.ql % 100 == 0"));
    assert!(m("-data.ab_internal.ql == -400"));
    assert!(m("data.ab_internal.ql // 3 == 133 and data.ab_internal.ql / 8 == 50.0"));
    assert!(m("2 ** 10 == 1024 and 7 % -3 == -2 and -7 // 2 == -4"));
    assert!(m("data.flags.enabled == 1 and True + True == 2"));
    assert!(m("data.flags.enabled is True and data.nullable is None"));
    assert!(m("'yes' if data.flags.disabled else 'no'"));
    assert!(m("data.ab_internal.ratio * 4 == 3"));
    assert!(m("~data.ab_internal.sl == -301 and 1 << 4 == 16"));
}

#[test]
fn methods_functions_and_subscripts() {
    assert!(m("data.dockerRepository.startswith('airbyte/')"));
    assert!(m("data.name.lower() == 'source x'"));
    assert!(m("data.name.split()[1] == 'X'"));
    assert!(m("data.get('missing') is None and data.get('missing', 5) == 5"));
    assert!(m("data.tags[0] == 'language:python' and data.tags[-1].endswith('low-code')"));
    assert!(m("data.name[:6] == 'Source'"));
    assert!(m("int(data.dockerImageTag.split('.')[0]) == 1"));
    assert!(m("str(data.ab_internal.ql) == '400' and float('1.5') == 1.5"));
    assert!(m("'%s!' % data.name == 'Source X!' and '%(name)s' % data == 'Source X'"));
    assert!(m("data['supportLevel'] == 'certified'"));
    assert!(m("data.numbered[1] == 'one'"));
    assert!(m("f'{data.name}!' == 'Source X!'"));
    assert!(m("data.releaseDate.year == 2023 and str(data.releaseDate) == '2023-01-01'"));
    assert!(m("'language:python' in data.tags and 'cdk' in data.tags[1]"));
    assert_eq!(raised("len(data.tags)"), "FunctionNotDefined");
    assert_eq!(raised("data.tags[5]"), "IndexError");
    assert_eq!(raised("data['nope']"), "KeyError");
    assert_eq!(raised("data.releaseDate >= '2023-01-01'"), "TypeError");
    assert_eq!(raised("['a'] == data.tags"), "FeatureNotAvailable");
    assert_eq!(raised("foo"), "NameNotDefined");
    assert_eq!(raised("data.__class__"), "FeatureNotAvailable");
    assert_eq!(raised("data.name.format()"), "FeatureNotAvailable");
    assert_eq!(raised("rand() < 2"), UNSUPPORTED);
    assert_eq!(raised("1 / 0"), "ZeroDivisionError");
    assert_eq!(raised("'a' * 200000"), "IterableTooLong");
    assert_eq!(raised("2 ** 5000000"), "NumberTooHigh");
}

#[test]
fn is_follows_cpython_caches() {
    assert!(m("data.ab_internal.sl is not 300"));
    assert!(m("data.ab_internal.ratio is not 0.75"));
    assert!(!m("data.supportLevel is 'certified'"));
    assert!(m("data.connectorType[0] is 's'"));
}

#[test]
fn statements_and_assignments() {
    // simpleeval evaluates an assignment's value and only the first statement.
    assert!(m("x = data.supportLevel == 'certified'"));
    assert!(m("data.name; 1 / 0"));
    assert!(!m("0\ndata.name"));
}

#[test]
fn syntax_errors_keep_columns() {
    let cases: &[(&str, usize)] = &[
        ("", 1),
        ("data.name == 'abc", 14),
        ("data.name)", 10),
        ("(data.name", 1),
        ("data.name ==", 13),
        ("data.in", 6),
        ("data.x > 1abc", 10),
        ("!data.a", 1),
        ("data.a && data.b", 9),
        ("01 == 1", 1),
        ("data.x if data.y", 17),
        ("f'{}'", 3),
    ];
    for (query, column) in cases {
        let (got, message) = syntax(query);
        assert_eq!(got, *column, "{query:?}: {message}");
    }
}

#[test]
fn nesting_is_capped_without_overflowing_the_stack() {
    let deep = format!("{}1{}", "(".repeat(150), ")".repeat(150));
    assert!(Query::parse(&deep).is_err());
    let ok = format!("{}data.name{}", "(".repeat(40), ")".repeat(40));
    assert!(m(&ok));
    let nots = format!("{}True", "not ".repeat(500));
    assert!(Query::parse(&nots).is_err());
    let minus = format!("{}1", "-".repeat(5000));
    assert!(Query::parse(&minus).is_err());
    let chain = vec!["data.name"; 2000].join(" and ");
    assert!(m(&chain));
}

#[test]
fn token_soup_never_panics() {
    let pieces = [
        "data",
        ".",
        "(",
        ")",
        "[",
        "]",
        "'x'",
        "1",
        "1.5",
        "and",
        "or",
        "not",
        "in",
        "is",
        "None",
        "==",
        "<",
        "+",
        "-",
        "*",
        "**",
        "%",
        "&",
        "|",
        "~",
        ",",
        ":",
        "f'{data}'",
        "if",
        "else",
        "lambda",
        "=",
        ";",
        "\n",
        "{",
        "}",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..4000 {
        let mut text = String::new();
        for _ in 0..(state % 12) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push_str(pieces[(state % pieces.len() as u64) as usize]);
            text.push(' ');
        }
        if let Ok(q) = Query::parse(&text) {
            let _ = q.matches(Some(&load_data(MIGRATED).unwrap()));
        }
    }
}
