//! Source-code measures for the code crawler (seed 004). The host walks the files; the
//! component measures each: language, lines, code lines, functions, branch points and
//! a McCabe-style complexity score, and a lexical embedding for similarity search.

#[cfg(target_arch = "wasm32")]
mod wit;

pub mod languages;
pub mod lexical;

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileMetrics {
    pub language: String,
    pub line_count: u32,
    pub code_lines: u32,
    pub functions: u32,
    pub branches: u32,
    pub complexity_score: f64,
    pub size_bytes: u64,
}

/// Counts `word` as a whole identifier token, or an operator as a substring.
fn count_tokens(line: &str, words: &[&str], operators: &[&str]) -> u32 {
    let mut n = 0;
    if !words.is_empty() {
        for token in line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '=' || c == '>')) {
            let token = token.trim_matches('=');
            if words.contains(&token) {
                n += 1;
            }
            if token.contains("=>") && words.contains(&"=>") {
                n += token.matches("=>").count() as u32;
            }
        }
    }
    for op in operators {
        n += line.matches(op).count() as u32;
    }
    n
}

/// Measures `text` as the contents of `path`. Comment-only and blank lines are not
/// code and are not searched for keywords; string contents are (a known limit of a
/// lexical count).
pub fn analyze(path: &str, text: &str) -> FileMetrics {
    let lang = languages::of_path(path);
    let (mut line_count, mut code_lines, mut functions, mut branches) = (0u32, 0u32, 0u32, 0u32);
    for line in text.lines() {
        line_count += 1;
        let t = line.trim();
        if t.is_empty() || lang.line_comments.iter().any(|c| t.starts_with(c)) {
            continue;
        }
        code_lines += 1;
        functions += count_tokens(t, lang.function_words, &[]);
        branches += count_tokens(t, lang.branch_words, lang.branch_operators);
    }
    let units = functions.max(1);
    FileMetrics {
        language: lang.name.to_string(),
        line_count,
        code_lines,
        functions,
        branches,
        complexity_score: f64::from(branches + units) / f64::from(units),
        size_bytes: text.len() as u64,
    }
}

#[derive(Deserialize)]
struct FileIn(String, String);

/// `analyze` over a JSON array of `[path, text]`; a JSON array of metrics back.
pub fn analyze_batch(files_json: &str) -> Result<String> {
    let files: Vec<FileIn> = serde_json::from_str(files_json).map_err(|e| {
        Error::invalid("files", format_args!("must be a JSON list of [path, text] pairs: {e}"))
    })?;
    let metrics: Vec<FileMetrics> = files.iter().map(|FileIn(p, t)| analyze(p, t)).collect();
    Ok(serde_json::to_string(&metrics).expect("metrics serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_metrics_follow_the_definition() {
        let src = "# header\n\ndef f(x):\n    if x and x > 1:\n        return 1\n    return 0\n\ndef g():\n    for i in range(3):\n        pass\n";
        let m = analyze("pkg/mod.py", src);
        assert_eq!(m.language, "python");
        assert_eq!((m.line_count, m.code_lines, m.functions, m.branches), (10, 7, 2, 3));
        assert_eq!(m.complexity_score, (3.0 + 2.0) / 2.0);
        assert_eq!(m.size_bytes, src.len() as u64);
    }

    #[test]
    fn rust_and_unknown_files() {
        let m = analyze("src/lib.rs", "fn a() -> bool {\n    // if not counted\n    x && y || z\n}\n");
        assert_eq!((m.functions, m.branches), (1, 2));
        let m = analyze("LICENSE", "if if if");
        assert_eq!((m.language.as_str(), m.branches, m.complexity_score), ("unknown", 0, 1.0));
        let out = analyze_batch(r#"[["a.js","function f(a){ return a ? 1 : 2 }"]]"#).unwrap();
        assert!(out.contains("\"language\":\"javascript\"") && out.contains("\"branches\":1"), "{out}");
        assert!(analyze_batch("[1]").is_err());
    }
}
