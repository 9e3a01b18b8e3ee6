//! The parts of a request whose shape differs between protocol families, translated for a
//! request that goes to a provider of another family: tool definitions, `tool_choice` and the
//! sampling parameters both families share. Anything without an equivalent is left out.

use serde_json::{Map, Value, json};

use super::{Exchange, Family};

fn same_family(target: Family, ex: &Exchange) -> bool {
    ex.format.family() == Some(target)
}

/// Tool definitions in `target`'s shape. Tools with no equivalent (provider-side tools) are
/// dropped.
pub fn tools_for(target: Family, ex: &Exchange) -> Option<Value> {
    let tools = ex.tools.as_ref()?;
    if same_family(target, ex) {
        return Some(tools.clone());
    }
    let converted: Vec<Value> = tools
        .as_array()?
        .iter()
        .filter_map(|t| match target {
            Family::Anthropic => {
                let f = t.get("function")?;
                let mut out = Map::new();
                out.insert("name".into(), f.get("name")?.clone());
                if let Some(d) = f.get("description") {
                    out.insert("description".into(), d.clone());
                }
                out.insert(
                    "input_schema".into(),
                    f.get("parameters")
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object"})),
                );
                Some(Value::Object(out))
            }
            Family::OpenAi => {
                let name = t.get("name")?;
                let schema = t.get("input_schema")?;
                let mut function = Map::new();
                function.insert("name".into(), name.clone());
                if let Some(d) = t.get("description") {
                    function.insert("description".into(), d.clone());
                }
                function.insert("parameters".into(), schema.clone());
                Some(json!({"type": "function", "function": function}))
            }
        })
        .collect();
    (!converted.is_empty()).then_some(Value::Array(converted))
}

/// `tool_choice` in `target`'s shape.
pub fn tool_choice_for(target: Family, ex: &Exchange) -> Option<Value> {
    let choice = ex.tool_choice.as_ref()?;
    if same_family(target, ex) {
        return Some(choice.clone());
    }
    match target {
        Family::Anthropic => Some(match choice {
            Value::String(s) if s == "required" => json!({"type": "any"}),
            Value::String(s) => json!({"type": s}),
            other => {
                let name = other.pointer("/function/name")?;
                json!({"type": "tool", "name": name})
            }
        }),
        Family::OpenAi => Some(match choice.get("type")?.as_str()? {
            "any" => json!("required"),
            "tool" => json!({"type": "function", "function": {"name": choice.get("name")?}}),
            other => json!(other),
        }),
    }
}

/// Sampling parameters in `target`'s names. Same family: all of them, unchanged.
pub fn params_for(target: Family, ex: &Exchange) -> Map<String, Value> {
    if same_family(target, ex) {
        return ex
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    let mut out = Map::new();
    for (k, v) in &ex.params {
        let (name, value) = match (target, k.as_str()) {
            (_, "temperature" | "top_p") => (k.as_str(), v.clone()),
            (Family::Anthropic, "max_tokens" | "max_completion_tokens") => {
                ("max_tokens", v.clone())
            }
            (Family::Anthropic, "stop") => match v {
                Value::String(s) => ("stop_sequences", json!([s])),
                other => ("stop_sequences", other.clone()),
            },
            (Family::OpenAi, "max_tokens") => ("max_tokens", v.clone()),
            (Family::OpenAi, "stop_sequences") => ("stop", v.clone()),
            _ => continue,
        };
        out.insert(name.to_string(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Format, Origin, Surface};

    fn exchange(format: Format, tools: Value, choice: Value, params: Value) -> Exchange {
        Exchange {
            tools: Some(tools),
            tool_choice: Some(choice),
            params: params
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            ..Exchange::new(
                Origin::new(Surface::Gateway, "t"),
                format,
                "m".into(),
                Vec::new(),
                Default::default(),
            )
        }
    }

    #[test]
    fn openai_tools_and_params_become_anthropic_ones() {
        let ex = exchange(
            Format::OpenAiChat,
            json!([{"type": "function", "function": {"name": "ls", "description": "list",
                "parameters": {"type": "object", "properties": {}}}}]),
            json!("required"),
            json!({"max_completion_tokens": 50, "stop": "END", "temperature": 0.1, "logprobs": true}),
        );
        assert_eq!(
            tools_for(Family::Anthropic, &ex).unwrap(),
            json!([{"name": "ls", "description": "list", "input_schema": {"type": "object", "properties": {}}}])
        );
        assert_eq!(
            tool_choice_for(Family::Anthropic, &ex).unwrap(),
            json!({"type": "any"})
        );
        assert_eq!(
            Value::Object(params_for(Family::Anthropic, &ex)),
            json!({"max_tokens": 50, "stop_sequences": ["END"], "temperature": 0.1})
        );
    }

    #[test]
    fn anthropic_tools_and_params_become_openai_ones() {
        let ex = exchange(
            Format::Anthropic,
            json!([{"name": "ls", "input_schema": {"type": "object"}},
                   {"type": "web_search_20250305", "name": "web_search"}]),
            json!({"type": "tool", "name": "ls"}),
            json!({"max_tokens": 99, "stop_sequences": ["x"], "top_k": 3}),
        );
        assert_eq!(
            tools_for(Family::OpenAi, &ex).unwrap(),
            json!([{"type": "function", "function": {"name": "ls", "parameters": {"type": "object"}}}])
        );
        assert_eq!(
            tool_choice_for(Family::OpenAi, &ex).unwrap(),
            json!({"type": "function", "function": {"name": "ls"}})
        );
        assert_eq!(
            Value::Object(params_for(Family::OpenAi, &ex)),
            json!({"max_tokens": 99, "stop": ["x"]})
        );
        // Same family: untouched.
        assert_eq!(params_for(Family::Anthropic, &ex).len(), 3);
    }
}
