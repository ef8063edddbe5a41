//! The `code-analysis` interface over [`crate::memory::code`].

use crate::wit::exports::agentcell::core::code_analysis as wc;
use crate::wit::{wit_result, wit_types, Component};

impl wc::Guest for Component {
    fn analyze(path: String, text: String) -> wc::FileMetrics {
        let m = crate::memory::code::analyze(&path, &text);
        wc::FileMetrics {
            language: m.language,
            line_count: m.line_count,
            code_lines: m.code_lines,
            functions: m.functions,
            branches: m.branches,
            complexity_score: m.complexity_score,
            size_bytes: m.size_bytes,
        }
    }
    fn analyze_batch(files_json: String) -> Result<String, wit_types::Error> {
        wit_result(crate::memory::code::analyze_batch(&files_json))
    }
    fn lexical_embedding(text: String, dimension: u32) -> Result<String, wit_types::Error> {
        wit_result(crate::memory::code::lexical::embed(&text, dimension)).map(|v| crate::blob::encode_f32(&v))
    }
    fn lexical_embeddings(texts_json: String, dimension: u32) -> Result<String, wit_types::Error> {
        wit_result(crate::memory::code::lexical::embed_many(&texts_json, dimension))
    }
}
