//! Dependency graphs, shared by the two engines that run them: AI Spine's flows (nodes
//! run by agents) and workflows (steps run by workers). Both name their vertices by id
//! and give each the ids it depends on.

use std::collections::{BTreeMap, BTreeSet};

/// A dependency cycle, as ids from one back to itself, if the graph has one. `graph`
/// lists each vertex with the ids it depends on; ids that are not vertices are ignored
/// (the callers reject them first, naming the vertex).
pub fn find_cycle<'a>(graph: &[(&'a str, &'a [String])]) -> Option<Vec<String>> {
    let deps: BTreeMap<&str, &[String]> = graph.iter().copied().collect();
    // 0 = unseen, 1 = on the current path, 2 = done.
    let mut mark: BTreeMap<&str, u8> = BTreeMap::new();
    fn visit<'a>(
        id: &'a str,
        deps: &BTreeMap<&'a str, &'a [String]>,
        mark: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match mark.get(id) {
            Some(2) => return None,
            Some(1) => {
                let start = path.iter().position(|p| *p == id).unwrap_or(0);
                let mut cycle: Vec<String> = path[start..].iter().map(|s| s.to_string()).collect();
                cycle.push(id.to_string());
                return Some(cycle);
            }
            _ => {}
        }
        mark.insert(id, 1);
        path.push(id);
        for dep in deps.get(id).copied().unwrap_or_default() {
            if let Some(c) = visit(dep, deps, mark, path) {
                return Some(c);
            }
        }
        path.pop();
        mark.insert(id, 2);
        None
    }
    for (id, _) in graph {
        if let Some(c) = visit(id, &deps, &mut mark, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

/// Every ancestor of `id` (what it depends on, directly or not), nearest first.
pub fn ancestors<'a>(graph: &[(&'a str, &'a [String])], id: &str) -> Vec<&'a str> {
    let deps: BTreeMap<&str, &[String]> = graph.iter().copied().collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut queue: std::collections::VecDeque<&str> =
        deps.get(id).copied().unwrap_or_default().iter().map(String::as_str).collect();
    while let Some(next) = queue.pop_front() {
        let Some((vertex, parents)) = deps.get_key_value(next) else { continue };
        if seen.insert(*vertex) {
            out.push(*vertex);
            queue.extend(parents.iter().map(String::as_str));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&'static str, &[&str])]) -> Vec<(String, Vec<String>)> {
        edges.iter().map(|(id, d)| (id.to_string(), d.iter().map(|s| s.to_string()).collect())).collect()
    }

    fn view(g: &[(String, Vec<String>)]) -> Vec<(&str, &[String])> {
        g.iter().map(|(id, d)| (id.as_str(), d.as_slice())).collect()
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        let g = graph(&[("a", &[]), ("b", &["a", "c"]), ("c", &["b"])]);
        assert_eq!(find_cycle(&view(&g)).unwrap(), vec!["b", "c", "b"]);
        let diamond = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        assert!(find_cycle(&view(&diamond)).is_none());
    }

    #[test]
    fn ancestors_are_transitive_and_unique() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        assert_eq!(ancestors(&view(&g), "d"), vec!["b", "c", "a"]);
        assert!(ancestors(&view(&g), "a").is_empty());
    }
}
