//! A JSON Schema validator for exactly the keywords the OpenLineage schemas use, with `$ref`s
//! resolved against documents registered by URL — offline, nothing fetched.
//!
//! Supported: `$ref` (same-document and registered URLs, with a JSON-pointer fragment), `type`,
//! `enum`, `const`, `required`, `properties`, `additionalProperties`, `items`, `allOf`,
//! `anyOf`, `oneOf`; annotations (`description`, `example(s)`, `format`, `title`, `$schema`,
//! `$id`, `$defs`, `definitions`) are ignored, as JSON Schema 2020-12 does by default. Any
//! other keyword is reported as an error, so a schema that grows a keyword is never
//! half-checked in silence.

use std::collections::HashMap;

use serde_json::Value;

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "definitions",
    "description",
    "example",
    "examples",
    "format",
    "title",
];

/// Schema documents by URL (without fragment).
#[derive(Default)]
pub(crate) struct Registry {
    documents: HashMap<String, Value>,
}

impl Registry {
    /// Registers `document` at `url`.
    pub(crate) fn register(&mut self, url: &str, document: Value) {
        self.documents.insert(url.to_string(), document);
    }

    /// Every way `instance` breaks the root schema of the document at `url`.
    pub(crate) fn errors(&self, url: &str, instance: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        match self.documents.get(url) {
            Some(schema) => self.check(url, schema, instance, "", &mut errors),
            None => errors.push(format!("no schema registered at {url}")),
        }
        errors
    }

    fn resolve(&self, base: &str, reference: &str) -> Result<(String, &Value), String> {
        let (url, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let url = if url.is_empty() { base } else { url };
        let document = self
            .documents
            .get(url)
            .ok_or_else(|| format!("`$ref` {reference}: no document registered at {url}"))?;
        let target = document
            .pointer(fragment)
            .ok_or_else(|| format!("`$ref` {reference}: nothing at {fragment} in {url}"))?;
        Ok((url.to_string(), target))
    }

    fn check(
        &self,
        base: &str,
        schema: &Value,
        instance: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let schema = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => return errors.push(format!("{at}: not allowed here")),
            Value::Object(schema) => schema,
            other => return errors.push(format!("schema is not an object: {other}")),
        };
        for (keyword, value) in schema {
            match keyword.as_str() {
                "$ref" => match self.resolve(base, value.as_str().unwrap_or_default()) {
                    Ok((url, target)) => self.check(&url, target, instance, at, errors),
                    Err(e) => errors.push(e),
                },
                "type" => {
                    let types: Vec<&str> = match value {
                        Value::String(one) => vec![one.as_str()],
                        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                        _ => Vec::new(),
                    };
                    if !types.iter().any(|t| is_type(instance, t)) {
                        errors.push(format!("{at}: {instance} is not of type {value}"));
                    }
                }
                "enum" => {
                    if !value.as_array().is_some_and(|v| v.contains(instance)) {
                        errors.push(format!("{at}: {instance} is not one of {value}"));
                    }
                }
                "const" => {
                    if value != instance {
                        errors.push(format!("{at}: {instance} is not {value}"));
                    }
                }
                "required" => {
                    if let Some(object) = instance.as_object() {
                        for name in value
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: `{name}` is required"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(object), Some(properties)) =
                        (instance.as_object(), value.as_object())
                    {
                        for (name, property) in properties {
                            if let Some(found) = object.get(name) {
                                self.check(base, property, found, &format!("{at}/{name}"), errors);
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = instance.as_object() {
                        let declared = schema.get("properties").and_then(Value::as_object);
                        for (name, found) in object {
                            if declared.is_some_and(|d| d.contains_key(name)) {
                                continue;
                            }
                            self.check(base, value, found, &format!("{at}/{name}"), errors);
                        }
                    }
                }
                "items" => {
                    for (index, item) in instance.as_array().into_iter().flatten().enumerate() {
                        self.check(base, value, item, &format!("{at}/{index}"), errors);
                    }
                }
                "allOf" => {
                    for sub in value.as_array().into_iter().flatten() {
                        self.check(base, sub, instance, at, errors);
                    }
                }
                "anyOf" | "oneOf" => {
                    let passing = value
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|sub| {
                            let mut found = Vec::new();
                            self.check(base, sub, instance, at, &mut found);
                            found.is_empty()
                        })
                        .count();
                    let ok = if keyword == "oneOf" {
                        passing == 1
                    } else {
                        passing >= 1
                    };
                    if !ok {
                        errors.push(format!("{at}: {passing} of the `{keyword}` schemas match"));
                    }
                }
                other if ANNOTATIONS.contains(&other) => {}
                other => errors.push(format!("unsupported keyword `{other}` in the schema")),
            }
        }
    }
}

fn is_type(instance: &Value, name: &str) -> bool {
    match name {
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "number" => instance.is_number(),
        "integer" => instance.is_i64() || instance.is_u64(),
        "boolean" => instance.is_boolean(),
        "null" => instance.is_null(),
        _ => false,
    }
}
