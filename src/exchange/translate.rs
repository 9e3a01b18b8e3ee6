//! The parts of a request whose shape differs between wire formats, translated for a request
//! that goes to a provider of another protocol family: tool definitions, `tool_choice` and the
//! sampling parameters every family shares. Each is read from the client's format into a neutral
//! form, then written in the target family's shape; anything without an equivalent is left out.

use serde_json::{Map, Value, json};

use super::{Exchange, Family, Format};

fn same_family(target: Family, ex: &Exchange) -> bool {
    ex.format.family() == Some(target)
}

/// A function tool, whatever format it came in.
struct ToolDef<'a> {
    name: &'a Value,
    description: Option<&'a Value>,
    schema: Value,
}

fn tool_defs(ex: &Exchange) -> Vec<ToolDef<'_>> {
    let Some(tools) = ex.tools.as_ref().and_then(Value::as_array) else {
        return Vec::new();
    };
    let object = || json!({"type": "object"});
    tools
        .iter()
        .filter_map(|t| match ex.format {
            // {"type": "function", "function": {name, description, parameters}}
            Format::OpenAiChat | Format::Native => {
                let f = t.get("function")?;
                Some(ToolDef {
                    name: f.get("name")?,
                    description: f.get("description"),
                    schema: f.get("parameters").cloned().unwrap_or_else(object),
                })
            }
            // {"type": "function", name, description, parameters}; other types are built-ins.
            Format::Responses => (t.get("type")?.as_str()? == "function").then(|| ToolDef {
                name: &t["name"],
                description: t.get("description"),
                schema: t.get("parameters").cloned().unwrap_or_else(object),
            }),
            // {name, description, input_schema}; tools with a `type` are server tools.
            Format::Anthropic => Some(ToolDef {
                name: t.get("name")?,
                description: t.get("description"),
                schema: t.get("input_schema")?.clone(),
            }),
            // Gemini nests them: {functionDeclarations: [...]}, handled below.
            Format::Gemini | Format::CloudCode => None,
        })
        .chain(gemini_declarations(ex))
        .collect()
}

/// Gemini's `tools[].functionDeclarations[]`.
fn gemini_declarations(ex: &Exchange) -> Vec<ToolDef<'_>> {
    if !matches!(ex.format, Format::Gemini | Format::CloudCode) {
        return Vec::new();
    }
    ex.tools
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|t| t.get("functionDeclarations").and_then(Value::as_array))
        .flatten()
        .filter_map(|d| {
            Some(ToolDef {
                name: d.get("name")?,
                description: d.get("description"),
                schema: d
                    .get("parameters")
                    .cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            })
        })
        .collect()
}

/// Tool definitions in `target`'s shape.
pub fn tools_for(target: Family, ex: &Exchange) -> Option<Value> {
    if same_family(target, ex) {
        return ex.tools.clone();
    }
    let converted: Vec<Value> = tool_defs(ex)
        .into_iter()
        .map(|d| {
            let mut out = Map::new();
            out.insert("name".into(), d.name.clone());
            if let Some(desc) = d.description {
                out.insert("description".into(), desc.clone());
            }
            let schema_key = match target {
                Family::Anthropic => "input_schema",
                Family::OpenAi | Family::Gemini => "parameters",
            };
            out.insert(schema_key.into(), d.schema);
            match target {
                Family::OpenAi => json!({"type": "function", "function": out}),
                Family::Anthropic | Family::Gemini => Value::Object(out),
            }
        })
        .collect();
    if converted.is_empty() {
        return None;
    }
    Some(match target {
        Family::Gemini => json!([{"functionDeclarations": converted}]),
        Family::OpenAi | Family::Anthropic => Value::Array(converted),
    })
}

/// A tool choice, whatever format it came in.
enum Choice<'a> {
    /// `auto`, `none`: the same word everywhere.
    Mode(&'a str),
    Required,
    Tool(&'a Value),
}

fn choice(ex: &Exchange) -> Option<Choice<'_>> {
    let c = ex.tool_choice.as_ref()?;
    Some(match (ex.format, c) {
        (_, Value::String(s)) if s == "required" || s == "any" => Choice::Required,
        (_, Value::String(s)) => Choice::Mode(s),
        (Format::Anthropic, c) => match c.get("type")?.as_str()? {
            "any" => Choice::Required,
            "tool" => Choice::Tool(c.get("name")?),
            mode => Choice::Mode(mode),
        },
        (Format::Responses, c) => Choice::Tool(c.get("name")?),
        (Format::Gemini | Format::CloudCode, c) => {
            let config = c.get("functionCallingConfig")?;
            match config.get("mode")?.as_str()? {
                "ANY" => match config["allowedFunctionNames"].as_array().map(Vec::as_slice) {
                    Some([only]) => Choice::Tool(only),
                    _ => Choice::Required,
                },
                "NONE" => Choice::Mode("none"),
                _ => Choice::Mode("auto"),
            }
        }
        (_, c) => Choice::Tool(c.pointer("/function/name")?),
    })
}

/// `tool_choice` in `target`'s shape.
pub fn tool_choice_for(target: Family, ex: &Exchange) -> Option<Value> {
    if same_family(target, ex) {
        return ex.tool_choice.clone();
    }
    Some(match (target, choice(ex)?) {
        (Family::Anthropic, Choice::Mode(m)) => json!({"type": m}),
        (Family::Anthropic, Choice::Required) => json!({"type": "any"}),
        (Family::Anthropic, Choice::Tool(name)) => json!({"type": "tool", "name": name}),
        (Family::OpenAi, Choice::Mode(m)) => json!(m),
        (Family::OpenAi, Choice::Required) => json!("required"),
        (Family::OpenAi, Choice::Tool(name)) => {
            json!({"type": "function", "function": {"name": name}})
        }
        (Family::Gemini, Choice::Mode(m)) => {
            json!({"functionCallingConfig": {"mode": m.to_ascii_uppercase()}})
        }
        (Family::Gemini, Choice::Required) => json!({"functionCallingConfig": {"mode": "ANY"}}),
        (Family::Gemini, Choice::Tool(name)) => {
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}})
        }
    })
}

/// Sampling parameters in `target`'s names (for Gemini: the `generationConfig` fields). Same
/// family: all of them, unchanged.
pub fn params_for(target: Family, ex: &Exchange) -> Map<String, Value> {
    if same_family(target, ex) {
        return ex
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    let mut out = Map::new();
    // Gemini keeps sampling parameters in `generationConfig`, in camelCase.
    let gemini_config = matches!(ex.format, Format::Gemini | Format::CloudCode)
        .then(|| ex.params.get("generationConfig").and_then(Value::as_object))
        .flatten()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let name = match k.as_str() {
                "topP" => "top_p",
                "maxOutputTokens" => "max_tokens",
                "stopSequences" => "stop",
                other => other,
            };
            (name.to_string(), v)
        });
    let params = ex
        .params
        .iter()
        .map(|(k, v)| (k.clone(), v))
        .chain(gemini_config);
    for (k, v) in params {
        let name = match (target, k.as_str()) {
            (_, "temperature") => "temperature",
            (Family::Gemini, "top_p") => "topP",
            (_, "top_p") => "top_p",
            (Family::Gemini, "max_tokens" | "max_completion_tokens" | "max_output_tokens") => {
                "maxOutputTokens"
            }
            (_, "max_tokens" | "max_completion_tokens" | "max_output_tokens") => "max_tokens",
            (Family::Anthropic, "stop" | "stop_sequences") => "stop_sequences",
            (Family::Gemini, "stop" | "stop_sequences") => "stopSequences",
            (Family::OpenAi, "stop" | "stop_sequences") => "stop",
            _ => continue,
        };
        let value = match (name, v) {
            ("stop_sequences" | "stopSequences", Value::String(s)) => json!([s]),
            _ => v.clone(),
        };
        out.insert(name.to_string(), value);
    }
    match (target, json_mode(ex)) {
        (Family::OpenAi, Some(schema)) => {
            let format = match schema {
                Some(schema) => json!({"type": "json_schema",
                    "json_schema": {"name": "response", "schema": schema}}),
                None => json!({"type": "json_object"}),
            };
            out.insert("response_format".into(), format);
        }
        (Family::Gemini, Some(schema)) => {
            out.insert("responseMimeType".into(), json!("application/json"));
            if let Some(schema) = schema {
                out.insert("responseJsonSchema".into(), schema);
            }
        }
        // Messages has no JSON mode: the model is asked in words by the client, or not at all.
        (Family::Anthropic, _) | (_, None) => {}
    }
    out
}

/// Whether the client asked for a JSON answer, and the schema it must follow if it gave one:
/// OpenAI `response_format` (`json_object` / `json_schema`), Responses `text.format`, Gemini
/// `generationConfig.responseMimeType = application/json` with `responseJsonSchema` or
/// `responseSchema`.
fn json_mode(ex: &Exchange) -> Option<Option<Value>> {
    let p = &ex.params;
    if let Some(config) = p.get("generationConfig").and_then(Value::as_object)
        && config.get("responseMimeType").and_then(Value::as_str) == Some("application/json")
    {
        let schema = config
            .get("responseJsonSchema")
            .or_else(|| config.get("responseSchema"))
            .cloned();
        return Some(schema);
    }
    let format = p
        .get("response_format")
        .or_else(|| p.get("text").and_then(|t| t.get("format")))?;
    match format.get("type").and_then(Value::as_str) {
        Some("json_object") => Some(None),
        Some("json_schema") => Some(
            format
                .get("json_schema")
                .and_then(|j| j.get("schema"))
                .or_else(|| format.get("schema"))
                .cloned(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Origin, Surface};

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
    fn json_mode_maps_between_gemini_and_openai() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let gemini = exchange(
            Format::Gemini,
            json!([]),
            json!({}),
            json!({"generationConfig": {"responseMimeType": "application/json",
                "responseJsonSchema": schema, "temperature": 0.1}}),
        );
        let openai = params_for(Family::OpenAi, &gemini);
        assert_eq!(
            openai["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "response", "schema": schema}})
        );
        assert_eq!(openai["temperature"], 0.1);
        assert!(
            params_for(Family::Anthropic, &gemini)
                .get("response_format")
                .is_none()
        );
        let chat = exchange(
            Format::OpenAiChat,
            json!([]),
            json!("auto"),
            json!({"response_format": {"type": "json_schema",
                "json_schema": {"name": "x", "schema": schema}}}),
        );
        let config = params_for(Family::Gemini, &chat);
        assert_eq!(config["responseMimeType"], "application/json");
        assert_eq!(config["responseJsonSchema"], schema);
        let plain = exchange(
            Format::Responses,
            json!([]),
            json!("auto"),
            json!({"text": {"format": {"type": "json_object"}}}),
        );
        assert_eq!(
            params_for(Family::Gemini, &plain)["responseMimeType"],
            "application/json"
        );
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

    #[test]
    fn gemini_declarations_config_and_generation_config_translate() {
        let ex = exchange(
            Format::Gemini,
            json!([{"functionDeclarations": [{"name": "f", "parameters": {"type": "object"}}]}]),
            json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}),
            json!({"generationConfig": {"temperature": 0.5, "maxOutputTokens": 64, "stopSequences": ["x"], "topK": 3}}),
        );
        assert_eq!(
            tools_for(Family::Anthropic, &ex).unwrap(),
            json!([{"name": "f", "input_schema": {"type": "object"}}])
        );
        assert_eq!(
            tool_choice_for(Family::OpenAi, &ex).unwrap(),
            json!({"type": "function", "function": {"name": "f"}})
        );
        assert_eq!(
            Value::Object(params_for(Family::Anthropic, &ex)),
            json!({"temperature": 0.5, "max_tokens": 64, "stop_sequences": ["x"]})
        );
    }

    #[test]
    fn responses_tools_and_params_become_chat_and_anthropic_ones() {
        let ex = exchange(
            Format::Responses,
            json!([{"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": false},
                   {"type": "web_search"}]),
            json!({"type": "function", "name": "shell"}),
            json!({"max_output_tokens": 7, "parallel_tool_calls": false, "reasoning": {"effort": "low"}}),
        );
        assert_eq!(
            tools_for(Family::OpenAi, &ex).unwrap(),
            json!([{"type": "function", "function": {"name": "shell", "parameters": {"type": "object"}}}])
        );
        assert_eq!(
            tool_choice_for(Family::Anthropic, &ex).unwrap(),
            json!({"type": "tool", "name": "shell"})
        );
        assert_eq!(
            Value::Object(params_for(Family::OpenAi, &ex)),
            json!({"max_tokens": 7})
        );
    }
}
