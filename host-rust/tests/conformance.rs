//! Runs the cross-host conformance vectors (`tests/vectors/*.json`) through the
//! component's dynamic call interface.

use agentcell_host::{Error, Runtime};
use serde_json::{json, Value};
use std::collections::HashMap;
use wasmtime::component::types::Type;
use wasmtime::component::{ResourceAny, Val};

/// Resources bound by earlier steps (`"bind": "s"`), by name.
type Bound = HashMap<String, ResourceAny>;

fn to_val(ty: &Type, v: &Value, bound: &Bound) -> Val {
    match ty {
        Type::Borrow(_) | Type::Own(_) => Val::Resource(bound[v["resource"].as_str().unwrap()]),
        Type::Bool => Val::Bool(v.as_bool().unwrap()),
        Type::S8 => Val::S8(v.as_i64().unwrap() as i8),
        Type::S16 => Val::S16(v.as_i64().unwrap() as i16),
        Type::S32 => Val::S32(v.as_i64().unwrap() as i32),
        Type::S64 => Val::S64(v.as_i64().unwrap()),
        Type::U8 => Val::U8(v.as_u64().unwrap() as u8),
        Type::U16 => Val::U16(v.as_u64().unwrap() as u16),
        Type::U32 => Val::U32(v.as_u64().unwrap() as u32),
        Type::U64 => Val::U64(v.as_u64().unwrap()),
        Type::Float32 => Val::Float32(v.as_f64().unwrap() as f32),
        Type::Float64 => Val::Float64(v.as_f64().unwrap()),
        Type::String => Val::String(v.as_str().unwrap().into()),
        Type::List(l) => Val::List(v.as_array().unwrap().iter().map(|e| to_val(&l.ty(), e, bound)).collect()),
        Type::Option(o) => {
            Val::Option(if v.is_null() { None } else { Some(Box::new(to_val(&o.ty(), v, bound))) })
        }
        Type::Enum(_) => Val::Enum(v.as_str().unwrap().into()),
        Type::Record(r) => {
            Val::Record(r.fields().map(|f| (f.name.to_string(), to_val(&f.ty, &v[f.name], bound))).collect())
        }
        other => panic!("vectors do not use arguments of type {other:?}"),
    }
}

fn to_json(v: &Val) -> Value {
    match v {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::Float32(f) => json!(*f as f64),
        Val::Float64(f) => json!(f),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Record(fields) => Value::Object(fields.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Val::Option(o) => o.as_deref().map(to_json).unwrap_or(Value::Null),
        Val::Enum(name) => json!(name),
        Val::Variant(case, payload) => json!({ case: payload.as_deref().map(to_json) }),
        Val::Resource(_) => json!("<resource>"),
        Val::Result(r) => match r {
            Ok(p) => json!({"ok": p.as_deref().map(to_json)}),
            Err(p) => json!({"err": p.as_deref().map(to_json)}),
        },
        other => panic!("unexpected value {other:?}"),
    }
}

fn subset(expected: &Value, got: &Value) -> bool {
    expected.as_object().unwrap().iter().all(|(k, v)| got.get(k) == Some(v))
}

#[test]
fn conformance_vectors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in file["cases"].as_array().unwrap() {
            cases += 1;
            let rt = Runtime::builder()
                .memory_storage()
                .component_file(agentcell_host::test_component_path())
                .build()
                .unwrap();
            let mut bound = Bound::new();
            for step in case["steps"].as_array().unwrap() {
                let (iface, name) = step["call"].as_str().unwrap().split_once('.').unwrap();
                let expect = &step["expect"];
                let context = format!("{} / {}: {step}", path.display(), case["name"]);
                if name.starts_with("[resource-drop]") {
                    let resource = bound[step["args"][0]["resource"].as_str().unwrap()];
                    rt.drop_resource(resource).unwrap_or_else(|e| panic!("{context}: {e}"));
                    assert_eq!(expect, &json!({"value": null}), "{context}");
                    continue;
                }
                let types = rt.param_types(iface, name).unwrap();
                let args: Vec<Val> = types
                    .iter()
                    .zip(step["args"].as_array().unwrap())
                    .map(|(t, a)| to_val(t, a, &bound))
                    .collect();
                match rt.call_dynamic(iface, name, &args) {
                    Err(Error::Trap { .. }) => assert_eq!(expect, &json!({"trap": true}), "{context}"),
                    Err(e) => panic!("{context}: {e}"),
                    Ok(got) => {
                        if let (Some(name), Some(Val::Result(Ok(Some(r))))) = (step["bind"].as_str(), &got) {
                            if let Val::Resource(r) = r.as_ref() {
                                bound.insert(name.to_owned(), *r);
                            }
                        }
                        let got = got.as_ref().map(to_json).unwrap_or(Value::Null);
                        if let Some(v) = expect.get("value") {
                            assert_eq!(&got, v, "{context}");
                        } else if let Some(fields) = expect.get("fields") {
                            let record = got.get("ok").unwrap_or(&got);
                            assert!(subset(fields, record), "{context}: got {got}");
                        } else if let Some(ok) = expect.get("ok") {
                            assert_eq!(got.get("ok"), Some(ok), "{context}: got {got}");
                        } else if let Some(err) = expect.get("err") {
                            assert!(got.get("err").is_some_and(|e| subset(err, e)), "{context}: got {got}");
                        } else {
                            panic!("{context}: expected a trap, got {got}");
                        }
                    }
                }
            }
        }
    }
    assert!(cases >= 15, "only {cases} cases found");
}
