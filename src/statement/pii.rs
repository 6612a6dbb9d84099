//! A guard against personal data in recommendation explanations (docs/contract.md §4): explanations
//! speak of segments and data categories, never of a person. This catches the obvious
//! identifiers (e-mail addresses, phone numbers); it is a seatbelt, not a DLP system.

use crate::statement::Explanation;

/// Why a string looks like it identifies a person, or `None`.
pub fn find_identifier(s: &str) -> Option<&'static str> {
    if looks_like_email(s) {
        return Some("an e-mail address");
    }
    if looks_like_phone(s) {
        return Some("a phone number");
    }
    None
}

fn looks_like_email(s: &str) -> bool {
    s.split(|c: char| c.is_whitespace() || "<>()[],;:\"'".contains(c)).any(|word| {
        let Some((local, domain)) = word.split_once('@') else {
            return false;
        };
        let domain = domain.trim_end_matches('.');
        !local.is_empty()
            && domain.contains('.')
            && domain
                .split('.')
                .all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'))
    })
}

fn looks_like_phone(s: &str) -> bool {
    // A run of 7 or more digits, allowing the separators people write phone numbers with.
    let mut digits = 0;
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits += 1;
            if digits >= 7 {
                return true;
            }
        } else if !matches!(c, ' ' | '-' | '.' | '(' | ')' | '/' | '+') {
            digits = 0;
        }
    }
    false
}

/// A field that looks like it identifies a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: looks like {what}; explanations must not identify a person (use segments and data categories)")]
pub struct PersonalData {
    /// The JSON path of the field, with indices, as in [`crate::statement::FieldError`].
    pub field: String,
    pub what: &'static str,
}

/// # Errors
/// [`PersonalData`] naming the first field that holds an identifier.
pub fn check_explanation(e: &Explanation) -> Result<(), PersonalData> {
    let mut fields: Vec<(String, &str)> = vec![("explanation.item".into(), e.item.as_str())];
    fields
        .extend(e.factors.iter().enumerate().map(|(i, f)| (format!("explanation.factors[{i}].name"), f.name.as_str())));
    fields.extend(
        e.data_categories.iter().enumerate().map(|(i, c)| (format!("explanation.data_categories[{i}]"), c.as_str())),
    );
    for (field, value) in fields {
        if let Some(what) = find_identifier(value) {
            return Err(PersonalData { field, what });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_emails_and_phones() {
        assert_eq!(find_identifier("contact jane.doe@example.com today"), Some("an e-mail address"));
        assert_eq!(find_identifier("<a@b.co>"), Some("an e-mail address"));
        assert_eq!(find_identifier("call +44 20 7946 0958"), Some("a phone number"));
        assert_eq!(find_identifier("(555) 123-4567"), Some("a phone number"));
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for ok in
            ["viewed similar items", "age 25-34", "sku-123456", "price @ 20% off", "2026 collection", "user@localhost"]
        {
            assert_eq!(find_identifier(ok), None, "{ok}");
        }
    }
}
