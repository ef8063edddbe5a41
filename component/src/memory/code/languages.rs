//! What the analyser knows about each language: how a file is recognised, how a
//! line comment starts, which words define a function and which mark a branch.

pub struct Language {
    pub name: &'static str,
    pub extensions: &'static [&'static str],
    pub line_comments: &'static [&'static str],
    pub function_words: &'static [&'static str],
    pub branch_words: &'static [&'static str],
    /// Operators that add a path (short-circuit logic, conditional expression).
    pub branch_operators: &'static [&'static str],
}

const C_BRANCHES: &[&str] = &["if", "for", "while", "case", "catch"];
const C_OPERATORS: &[&str] = &["&&", "||", "?"];

pub const LANGUAGES: &[Language] = &[
    Language {
        name: "python",
        extensions: &["py", "pyi"],
        line_comments: &["#"],
        function_words: &["def", "lambda"],
        branch_words: &["if", "elif", "for", "while", "except", "and", "or", "case"],
        branch_operators: &[],
    },
    Language {
        name: "rust",
        extensions: &["rs"],
        line_comments: &["//"],
        function_words: &["fn"],
        branch_words: &["if", "for", "while", "loop"],
        branch_operators: &["&&", "||", "=>", "?"],
    },
    Language {
        name: "javascript",
        extensions: &["js", "mjs", "cjs", "jsx"],
        line_comments: &["//"],
        function_words: &["function", "=>"],
        branch_words: C_BRANCHES,
        branch_operators: C_OPERATORS,
    },
    Language {
        name: "typescript",
        extensions: &["ts", "tsx", "mts"],
        line_comments: &["//"],
        function_words: &["function", "=>"],
        branch_words: C_BRANCHES,
        branch_operators: C_OPERATORS,
    },
    Language {
        name: "go",
        extensions: &["go"],
        line_comments: &["//"],
        function_words: &["func"],
        branch_words: &["if", "for", "case", "select"],
        branch_operators: &["&&", "||"],
    },
    Language {
        name: "java",
        extensions: &["java"],
        line_comments: &["//"],
        function_words: &["void", "public", "private", "protected"],
        branch_words: C_BRANCHES,
        branch_operators: C_OPERATORS,
    },
    Language {
        name: "c",
        extensions: &["c", "h"],
        line_comments: &["//"],
        function_words: &[],
        branch_words: C_BRANCHES,
        branch_operators: C_OPERATORS,
    },
    Language {
        name: "cpp",
        extensions: &["cc", "cpp", "cxx", "hpp", "hh"],
        line_comments: &["//"],
        function_words: &[],
        branch_words: C_BRANCHES,
        branch_operators: C_OPERATORS,
    },
    Language {
        name: "ruby",
        extensions: &["rb"],
        line_comments: &["#"],
        function_words: &["def"],
        branch_words: &["if", "elsif", "unless", "while", "until", "for", "when", "rescue", "and", "or"],
        branch_operators: &["&&", "||"],
    },
    Language {
        name: "shell",
        extensions: &["sh", "bash"],
        line_comments: &["#"],
        function_words: &["function"],
        branch_words: &["if", "elif", "for", "while", "case"],
        branch_operators: &["&&", "||"],
    },
    Language {
        name: "markdown",
        extensions: &["md", "rst", "txt"],
        line_comments: &[],
        function_words: &[],
        branch_words: &[],
        branch_operators: &[],
    },
    Language {
        name: "toml",
        extensions: &["toml", "ini", "cfg"],
        line_comments: &["#"],
        function_words: &[],
        branch_words: &[],
        branch_operators: &[],
    },
    Language {
        name: "json",
        extensions: &["json"],
        line_comments: &[],
        function_words: &[],
        branch_words: &[],
        branch_operators: &[],
    },
    Language {
        name: "yaml",
        extensions: &["yaml", "yml"],
        line_comments: &["#"],
        function_words: &[],
        branch_words: &[],
        branch_operators: &[],
    },
    Language {
        name: "wit",
        extensions: &["wit"],
        line_comments: &["//"],
        function_words: &["func"],
        branch_words: &[],
        branch_operators: &[],
    },
];

pub const UNKNOWN: Language = Language {
    name: "unknown",
    extensions: &[],
    line_comments: &[],
    function_words: &[],
    branch_words: &[],
    branch_operators: &[],
};

/// The language of `path`, by extension (case-insensitive).
pub fn of_path(path: &str) -> &'static Language {
    let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let Some((_, ext)) = file.rsplit_once('.') else { return &UNKNOWN };
    let ext = ext.to_ascii_lowercase();
    LANGUAGES.iter().find(|l| l.extensions.contains(&ext.as_str())).unwrap_or(&UNKNOWN)
}
