//! The fields every stamp of a run shares, from the `stamp` flags: the prompt and the
//! explanation read from their files, and every rule the service would check, checked
//! first, so that a bad flag fails once, naming the flag, and not once per file.

use std::path::Path;

use anyhow::Context;

use crate::cli::args::StampArgs;
use crate::cli::batch::StampTemplate;
use crate::statement::request::RequestError;
use crate::statement::{Disclosure, Explanation, Generator, Kind};

/// The fields every stamp of the run shares, from the flags, checked as the service
/// would check them.
pub(super) fn template(args: &StampArgs) -> anyhow::Result<StampTemplate> {
    let prompt = match (&args.prompt.prompt, &args.prompt.prompt_file) {
        (Some(prompt), _) => Some(prompt.clone()),
        (None, Some(file)) => Some(read_prompt(file)?),
        (None, None) => None,
    };
    let explanation = args.explanation.as_deref().map(read_explanation).transpose()?;
    match (args.kind, &explanation) {
        (Kind::RecommendationExplanation, None) => anyhow::bail!(
            "--kind recommendation_explanation needs --explanation FILE, a JSON object with item, factors, \
             data_categories and legal_basis (see aiprov stamp --help)"
        ),
        (kind, Some(_)) if kind != Kind::RecommendationExplanation => {
            anyhow::bail!("--explanation is only for --kind recommendation_explanation, not --kind {}", kind.as_str())
        }
        _ => {}
    }
    let template = StampTemplate {
        kind: args.kind,
        generator: Generator {
            provider: args.provider.clone(),
            model: args.model.clone(),
            model_version: args.model_version.clone(),
        },
        disclosure: Disclosure { text: args.disclosure.clone(), lang: args.lang.clone() },
        digital_source_type: args.digital_source_type.clone(),
        human_oversight: args.human_oversight,
        prompt,
        explanation,
    };
    template.validate().map_err(|e| anyhow::anyhow!("{}: {e}", flag_of(&e)))?;
    Ok(template)
}

/// The flag that sets the field a validation error names.
fn flag_of(error: &RequestError) -> &'static str {
    let field = match error {
        RequestError::Field(f) => f.field.as_str(),
        RequestError::PersonalData(p) => p.field.as_str(),
        RequestError::Content { .. } | RequestError::Base64(_) => "",
    };
    match field {
        "generator.provider" => "--provider",
        "generator.model" => "--model",
        "generator.model_version" => "--model-version",
        "disclosure.text" => "--disclosure",
        "disclosure.lang" => "--lang",
        "prompt" => "the prompt",
        f if f.starts_with("explanation") => "--explanation",
        _ => "invalid flags",
    }
}

/// The prompt in `path`: UTF-8, without the one newline an editor ends a file with.
fn read_prompt(path: &Path) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("--prompt-file {}", path.display()))?;
    let mut prompt =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("--prompt-file {}: not UTF-8 text", path.display()))?;
    if prompt.ends_with('\n') {
        prompt.pop();
        if prompt.ends_with('\r') {
            prompt.pop();
        }
    }
    Ok(prompt)
}

/// The explanation object in the JSON file at `path`.
fn read_explanation(path: &Path) -> anyhow::Result<Explanation> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--explanation {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("--explanation {}: not an explanation object", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_file_loses_one_trailing_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prompt.txt");
        for (written, read) in
            [("a slogan\n", "a slogan"), ("two\n\n", "two\n"), ("crlf\r\n", "crlf"), ("none", "none")]
        {
            std::fs::write(&file, written).unwrap();
            assert_eq!(read_prompt(&file).unwrap(), read, "{written:?}");
        }
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(read_prompt(&file).unwrap_err().to_string().contains("not UTF-8"));
    }

    #[test]
    fn validation_errors_name_the_flag() {
        use crate::statement::FieldError;
        let lang = RequestError::Field(FieldError::new("disclosure.lang", "must be a BCP 47 language tag"));
        assert_eq!(flag_of(&lang), "--lang");
        let item = RequestError::Field(FieldError::new("explanation.factors.weight", "must be finite"));
        assert_eq!(flag_of(&item), "--explanation");
    }
}
