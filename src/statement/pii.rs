//! A guard against personal data in the free text that reaches the public, permanent log
//! (docs/contract.md §4): the disclosure text, the generator's names, the media type,
//! explanations, and issuer names when a token is created. A statement speaks of an
//! asset, its generator and its issuer, never of a person, and once logged it cannot be
//! erased.
//!
//! It is a seatbelt, not a DLP system: it catches the identifiers people paste by habit
//! (e-mail addresses, also written as "jane at example dot com", phone numbers in their
//! usual written forms, a person named with a street address) and lets ordinary copy,
//! product names, SKUs, EANs, dates and versions through. README.md ("What the
//! personal-data guard catches") lists exactly what it catches and what it cannot.

use crate::statement::Explanation;

/// A field that looks like it identifies a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field}: looks like {what}; statements are public and their log cannot be erased, so they must not \
     identify a person"
)]
pub struct PersonalData {
    /// The JSON path of the field, as in [`crate::statement::FieldError`].
    pub field: String,
    pub what: &'static str,
}

/// Why a string looks like it identifies a person, or `None`.
pub fn find_identifier(s: &str) -> Option<&'static str> {
    if has_email(s) {
        Some("an e-mail address")
    } else if has_obfuscated_email(s) {
        Some("an e-mail address written out (such as \"name at example dot com\")")
    } else if has_phone(s) {
        Some("a phone number")
    } else if has_personal_address(s) {
        Some("a person's street address")
    } else {
        None
    }
}

/// # Errors
/// [`PersonalData`] naming `field` when `value` holds an identifier.
pub fn check(field: &str, value: &str) -> Result<(), PersonalData> {
    match find_identifier(value) {
        Some(what) => Err(PersonalData { field: field.to_owned(), what }),
        None => Ok(()),
    }
}

/// # Errors
/// [`PersonalData`] naming the first field of `e` that holds an identifier.
pub fn check_explanation(e: &Explanation) -> Result<(), PersonalData> {
    check("explanation.item", &e.item)?;
    for (i, f) in e.factors.iter().enumerate() {
        check(&format!("explanation.factors[{i}].name"), &f.name)?;
    }
    for (i, c) in e.data_categories.iter().enumerate() {
        check(&format!("explanation.data_categories[{i}]"), c)?;
    }
    Ok(())
}

/// `local@domain.tld` as one word (the full-width at signs count as `@`).
fn has_email(s: &str) -> bool {
    let s = s.replace(['＠', '﹫'], "@");
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

/// One piece of text as the e-mail detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Word(&'a str),
    /// `@`, the word `at`, or `(at)` `[at]` `{at}` `<at>`.
    At(Marker),
    /// `.` inside a word, the word `dot`, or `(dot)` `[dot]` `{dot}` `<dot>`.
    Dot(Marker),
    /// Anything else, which ends an address.
    Break,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// The symbol itself: `@`, `.`.
    Symbol,
    /// Spelled as a word: `at`, `dot`.
    Word,
    /// Spelled in brackets: `(at)`, `[dot]`: nobody writes that but to hide an address.
    Bracketed,
}

/// Words that come before "at" in ordinary copy ("visit us at", "shop at", "now at"),
/// never as the local part of an address written out.
const NOT_A_MAILBOX: &[&str] = &[
    "us",
    "me",
    "now",
    "more",
    "online",
    "here",
    "shop",
    "buy",
    "order",
    "visit",
    "available",
    "find",
    "see",
    "look",
    "it",
    "this",
    "that",
    "and",
    "or",
    "today",
    "sale",
    "only",
    "stores",
    "store",
    "them",
    "you",
];

fn tokens(lower: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let c = lower[i..].chars().next().unwrap_or(' ');
        let next = i + c.len_utf8();
        if c.is_whitespace() {
            i = next;
        } else if let Some((tok, end)) = bracketed(lower, i) {
            out.push(tok);
            i = end;
        } else if c == '@' {
            out.push(Tok::At(Marker::Symbol));
            i = next;
        } else if c == '.' {
            // A dot between two characters of a word joins labels; one before a space
            // or the end of the text ends a sentence.
            let joins = lower[..i].chars().next_back().is_some_and(|p| !p.is_whitespace())
                && lower[next..].chars().next().is_some_and(|n| n.is_alphanumeric());
            out.push(if joins { Tok::Dot(Marker::Symbol) } else { Tok::Break });
            i = next;
        } else if c.is_alphanumeric() || "_%+-".contains(c) {
            let end =
                lower[i..].find(|c: char| !(c.is_alphanumeric() || "_%+-".contains(c))).map_or(lower.len(), |e| i + e);
            let word = &lower[i..end];
            out.push(match word.trim_matches(['-', '_']) {
                "at" => Tok::At(Marker::Word),
                "dot" => Tok::Dot(Marker::Word),
                _ => Tok::Word(word),
            });
            i = end;
        } else {
            out.push(Tok::Break);
            i = next;
        }
    }
    out
}

/// `(at)`, `[ dot ]` and the like starting at byte `i`, with the byte after it.
fn bracketed(lower: &str, i: usize) -> Option<(Tok<'static>, usize)> {
    let open = lower[i..].chars().next()?;
    let close = match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        '<' => '>',
        _ => return None,
    };
    let rest = &lower[i + 1..];
    let end = rest.find(close)?;
    let tok = match rest[..end].trim() {
        "at" => Tok::At(Marker::Bracketed),
        "dot" => Tok::Dot(Marker::Bracketed),
        _ => return None,
    };
    Some((tok, i + 1 + end + 1))
}

/// An address written out: a mailbox word, an "at", and a domain of two or more labels
/// whose last is a top-level domain. Only written-out forms count here (`has_email`
/// catches the plain one): the at in brackets, or a dot as a word or in brackets. So
/// "shop at example.com" and "tickets @ example.com", which are web addresses, pass.
fn has_obfuscated_email(s: &str) -> bool {
    let lower = s.to_lowercase();
    let toks = tokens(&lower);
    toks.iter().enumerate().any(|(i, tok)| {
        let Tok::At(at) = *tok else { return false };
        let Some(Tok::Word(local)) = i.checked_sub(1).map(|p| toks[p]) else { return false };
        if at == Marker::Word && NOT_A_MAILBOX.contains(&local) {
            return false;
        }
        let (mut labels, mut dots) = (Vec::new(), Vec::new());
        let mut j = i + 1;
        while let Some(Tok::Word(label)) = toks.get(j) {
            if !label.chars().all(|c| c.is_alphanumeric() || c == '-') {
                break;
            }
            labels.push(*label);
            match toks.get(j + 1) {
                Some(Tok::Dot(m)) if matches!(toks.get(j + 2), Some(Tok::Word(_))) => dots.push(*m),
                _ => break,
            }
            j += 2;
        }
        let tld = labels.last().copied().unwrap_or_default();
        let tld_ok =
            (2..=24).contains(&tld.len()) && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--"));
        let written_out = at == Marker::Bracketed || dots.iter().any(|d| *d != Marker::Symbol);
        labels.len() >= 2 && tld_ok && written_out
    })
}

/// Words that say the number after them is a phone number.
const PHONE_WORDS: &[&str] = &[
    "tel",
    "tél",
    "phone",
    "telephone",
    "téléphone",
    "telefon",
    "telefono",
    "teléfono",
    "call",
    "mobile",
    "mob",
    "cell",
    "fax",
    "whatsapp",
    "sms",
];

/// A phone number in one of the forms people write them in. A bare run of digits is not
/// one (it is as likely an EAN, a SKU or an order number) unless a phone word precedes it.
fn has_phone(s: &str) -> bool {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (at, c) = chars[k];
        let prev = k.checked_sub(1).map(|p| chars[p].1);
        // A number glued to a word or code ("sku-1234567", "A1234567") is not a phone.
        let free = prev.is_none_or(|p| !(p.is_alphanumeric() || "-./+_".contains(p)));
        let starts =
            c.is_ascii_digit() || (matches!(c, '+' | '(') && chars.get(k + 1).is_some_and(|n| n.1.is_ascii_digit()));
        if !(free && starts) {
            k += 1;
            continue;
        }
        let mut end = k + 1;
        while end < chars.len() && (chars[end].1.is_ascii_digit() || " -./()".contains(chars[end].1)) {
            end += 1;
        }
        let glued = chars[end - 1].1.is_ascii_digit() && chars.get(end).is_some_and(|n| n.1.is_alphanumeric());
        let run: String = chars[k..end].iter().map(|(_, c)| c).collect();
        if !glued && is_phone_number(run.trim_end_matches(|c: char| !c.is_ascii_digit()), phone_word_before(&s[..at])) {
            return true;
        }
        k = end.max(k + 1);
    }
    false
}

/// Whether one of the last two words before a number is a phone word ("Tel:", "call",
/// "phone number").
fn phone_word_before(before: &str) -> bool {
    before
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .rev()
        .take(2)
        .any(|w| PHONE_WORDS.contains(&w.to_lowercase().as_str()))
}

/// Whether a run of digits and separators (`+44 20 7946 0958`, `(555) 123-4567`,
/// `030 1234567`) has the shape of a phone number.
fn is_phone_number(run: &str, after_phone_word: bool) -> bool {
    let groups: Vec<&str> = run.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    let digits: usize = groups.iter().map(|g| g.len()).sum();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let first = groups.first().copied().unwrap_or_default();
    // Dates come in the same digits: 01.10.2026 10:00, 31/12/1999.
    let date =
        lens.len() >= 3 && lens[0] <= 2 && lens[1] <= 2 && lens[2] == 4 && matches!(&groups[2][..2], "19" | "20");
    if date {
        return false;
    }
    let international = run.starts_with('+') && (8..=15).contains(&digits);
    // (555) 123-4567, (030) 1234567: an area code in brackets.
    let area_code = run.starts_with('(')
        && (first.len() == 3 || (first.starts_with('0') && (2..=5).contains(&first.len())))
        && (9..=15).contains(&digits);
    // 555-123-4567, 1 800 555 0199.
    let north_american = lens == [3, 3, 4] || (lens == [1, 3, 3, 4] && first == "1");
    // A national number with its trunk prefix: 020 7946 0958, 030 1234567, 01 23 45 67 89.
    let national = first.starts_with('0')
        && !first.starts_with("00")
        && (2..=5).contains(&first.len())
        && lens.len() >= 2
        && lens.iter().all(|l| *l >= 2)
        && (9..=12).contains(&digits);
    let announced = after_phone_word && (7..=15).contains(&digits);
    international || area_code || north_american || national || announced
}

/// Words that end a street name after the house number (`12 Baker Street`).
const STREET_AFTER: &[&str] = &[
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "lane",
    "ln",
    "boulevard",
    "blvd",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "square",
    "sq",
    "terrace",
    "close",
    "crescent",
    "drive",
    "highway",
    "hwy",
    "parkway",
    "pkwy",
];
/// Words that start a street name (`12 rue de la Paix`, `Via Roma 10`).
const STREET_BEFORE: &[&str] =
    &["rue", "avenue", "boulevard", "chemin", "allée", "quai", "via", "viale", "piazza", "calle", "avenida", "plaza"];
/// Endings of one-word street names (`Hauptstraße 5`, `Kerkstraat 12`).
const STREET_ENDINGS: &[&str] =
    &["straße", "strasse", "str", "weg", "gasse", "platz", "allee", "damm", "ufer", "straat", "laan", "plein"];
/// Titles before a person's name.
const HONORIFICS: &[&str] = &[
    "mr", "mrs", "ms", "mx", "miss", "dr", "prof", "sir", "herr", "frau", "mme", "mlle", "sr", "sra", "srta", "sig",
    "signor", "signora",
];
/// Words before a person's name in an explanation (`customer Jane Doe`).
const ROLES: &[&str] = &[
    "customer",
    "client",
    "user",
    "member",
    "subscriber",
    "buyer",
    "shopper",
    "patient",
    "recipient",
    "resident",
    "tenant",
    "kunde",
    "kundin",
    "nutzer",
    "nutzerin",
    "cliente",
    "utilisateur",
    "utilisatrice",
];
/// Phrases that say an address is where someone lives.
const RESIDENCE: &[&str] = &[
    "lives at",
    "lives on",
    "lives in",
    "living at",
    "resides at",
    "resides in",
    "residing at",
    "home address",
    "wohnt in",
    "wohnt am",
    "wohnhaft",
    "habite",
    "domicilié",
    "vive en",
    "abita in",
];

/// A street address together with a sign that it is a person's: a title or a role word
/// before a capitalised name, or a phrase of residence. A shop's address alone ("visit
/// us at 12 Baker Street") passes.
fn has_personal_address(s: &str) -> bool {
    let words: Vec<&str> = s
        .split(|c: char| c.is_whitespace() || ",;:()\"".contains(c))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .collect();
    if !has_street_address(&words) {
        return false;
    }
    let lower = s.to_lowercase();
    let named = words.windows(2).any(|w| {
        let title = w[0].to_lowercase();
        (HONORIFICS.contains(&title.as_str()) || ROLES.contains(&title.as_str())) && is_capitalised(w[1])
    });
    named || RESIDENCE.iter().any(|p| lower.contains(p))
}

fn is_house_number(w: &str) -> bool {
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    (1..=5).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && w.len() - digits.len() <= 1
}

fn is_capitalised(w: &str) -> bool {
    let mut cs = w.chars();
    // Jean-Luc, O'Brien.
    cs.next().is_some_and(char::is_uppercase)
        && w.chars().count() >= 2
        && cs.all(|c| c.is_alphabetic() || c == '-' || c == '\'')
}

fn has_street_address(words: &[&str]) -> bool {
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    let is = |i: usize, list: &[&str]| lower.get(i).is_some_and(|w| list.contains(&w.as_str()));
    (0..words.len()).any(|i| {
        // 12 Baker Street: a number, one to three capitalised names, a street word.
        let number_first = is_house_number(words[i])
            && (2..=4).any(|n| {
                is(i + n, STREET_AFTER) && (i + 1..i + n).all(|k| words.get(k).is_some_and(|w| is_capitalised(w)))
            });
        // 12 rue de la Paix.
        let french = is_house_number(words[i]) && is(i + 1, STREET_BEFORE) && words.len() > i + 2;
        // Hauptstraße 5.
        let one_word = STREET_ENDINGS
            .iter()
            .any(|e| lower[i].len() > e.len() + 2 && lower[i].ends_with(e) && is_capitalised(words[i]))
            && words.get(i + 1).is_some_and(|w| is_house_number(w));
        // Via Roma 10, Calle Mayor 5.
        let named_after = is(i, STREET_BEFORE)
            && (2..=4).any(|n| {
                words.get(i + n).is_some_and(|w| is_house_number(w))
                    && (i + 1..i + n).all(|k| words.get(k).is_some_and(|w| is_capitalised(w)))
            });
        number_first || french || one_word || named_after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "an e-mail address";
    const WRITTEN: &str = "an e-mail address written out (such as \"name at example dot com\")";
    const PHONE: &str = "a phone number";
    const ADDRESS: &str = "a person's street address";

    #[test]
    fn finds_identifiers() {
        let cases: &[(&str, &str)] = &[
            ("contact jane.doe@example.com today", EMAIL),
            ("<a@b.co>", EMAIL),
            ("JANE@EXAMPLE.ORG", EMAIL),
            ("bought by jane.doe@example.com.", EMAIL),
            ("jane＠example.com", EMAIL),
            ("text/plain; name=jane@example.com", EMAIL),
            ("jane.doe at example dot com", WRITTEN),
            ("Jane Doe AT example DOT com", WRITTEN),
            ("jane [at] example [dot] com", WRITTEN),
            ("jane [ at ] example [ dot ] co [ dot ] uk", WRITTEN),
            ("jane(at)example.com", WRITTEN),
            ("jane (at) example (dot) com", WRITTEN),
            ("jane{at}example{dot}org", WRITTEN),
            ("jane<at>mail<dot>example<dot>de", WRITTEN),
            ("write to jane -at- example -dot- com", WRITTEN),
            ("jane@example dot com", WRITTEN),
            ("j.doe at mail.example dot com", WRITTEN),
            ("call +44 20 7946 0958", PHONE),
            ("+1 555 123 4567", PHONE),
            ("+4915112345678", PHONE),
            ("+49 (0)30 1234567", PHONE),
            ("(555) 123-4567", PHONE),
            ("(030) 1234567", PHONE),
            ("555-123-4567", PHONE),
            ("555.123.4567", PHONE),
            ("1 800 555 0199", PHONE),
            ("020 7946 0958", PHONE),
            ("030 1234567", PHONE),
            ("0171-1234567", PHONE),
            ("030 / 123 456 78", PHONE),
            ("01 23 45 67 89", PHONE),
            ("07700 900123", PHONE),
            ("Tel: 5551234567", PHONE),
            ("phone number 5551234", PHONE),
            ("Call 555 1234 now", PHONE),
            ("WhatsApp 0049 151 1234 5678", PHONE),
            ("Mrs Jane Doe, 12 Baker Street", ADDRESS),
            ("Mr. Smith of 221B Baker Street", ADDRESS),
            ("customer Jane Doe, 5 Main Street, Springfield", ADDRESS),
            ("Jane lives at 12 Baker Street", ADDRESS),
            ("Frau Müller, Hauptstraße 5, Berlin", ADDRESS),
            ("Kunde Max Mustermann, Musterweg 12a", ADDRESS),
            ("M. Dupont habite 12 rue de la Paix", ADDRESS),
            ("Sig. Rossi, Via Roma 10", ADDRESS),
            ("Dr Watson, 221B Baker St", ADDRESS),
            ("she resides in Hauptstraße 5", ADDRESS),
            ("home address: 12 Baker Street", ADDRESS),
        ];
        for (text, what) in cases {
            assert_eq!(find_identifier(text), Some(*what), "{text:?}");
        }
    }

    #[test]
    fn leaves_ordinary_copy_alone() {
        for ok in [
            "This text was generated with AI.",
            "This text was generated with AI and reviewed by our team.",
            "Dieser Text wurde mit KI erstellt.",
            "Image generated with AI (Stable Diffusion XL 1.0).",
            "viewed similar items",
            "browsing history",
            "purchase history in the last 30 days",
            "age 25-34",
            "sku-123456",
            "sku-1234567890",
            "SKU 4006381333931",
            "EAN 4006381333931",
            "EAN: 0012345678905",
            "4006381333931",
            "UPC 0 12345 67890 5",
            "ISBN 978-3-16-148410-0",
            "order 123456789",
            "item A1234567",
            "Model 3000",
            "Model 3000 Pro, 2 colours",
            "iPhone 15 Pro 256 GB",
            "price @ 20% off",
            "2026 collection",
            "2026-10-22",
            "2024-08-06",
            "GPT-4o 2024-08-06",
            "claude-3-5-sonnet-20241022",
            "20241022",
            "v1.2.3",
            "01.10.2026",
            "01.10.2026 10:00",
            "31/12/1999 - 01/01/2000",
            "sizes 38 40 42 44 46",
            "from 1.299.000 units",
            "user@localhost",
            "@acme on every platform",
            "shop at example.com",
            "Order now at shop.example.com",
            "Buy tickets @ shop.example.com",
            "Visit us at example dot com",
            "Learn more at acme dot com",
            "Meet at 5 dot 30",
            "Look at this. Com is short for commerce.",
            "Visit our flagship store at 12 Baker Street",
            "Acme Store, 12 Baker Street, London",
            "3 Way Switch",
            "Dr. Oetker pudding",
            "customer segment: outdoor enthusiasts",
            "Hauptstraße 5 ist unser Laden",
        ] {
            assert_eq!(find_identifier(ok), None, "{ok:?}");
        }
    }

    /// What README.md says the guard cannot catch, and its known false alarms: if one of
    /// these changes, the README must change with it.
    #[test]
    fn the_documented_limits_hold() {
        for missed in [
            "Jane Doe",
            "Jane Doe, 12 Baker Street",
            "5551234567",
            "0044 20 7946 0958",
            "jane at example.com",
            "jane_at_example_dot_com",
            "DE89 3704 0044 0532 0130 00",
            "@jane_doe",
        ] {
            assert_eq!(find_identifier(missed), None, "{missed:?} is documented as not caught");
        }
        assert_eq!(find_identifier("made at home dot com"), Some(WRITTEN));
        assert_eq!(find_identifier("Dr. Oetker, 12 Baker Street"), Some(ADDRESS));
    }

    #[test]
    fn every_field_of_an_explanation_is_checked_and_named_with_its_index() {
        use crate::statement::{Factor, LegalBasis};
        let mut e = Explanation {
            item: "sku-1".into(),
            factors: vec![Factor { name: "viewed similar items".into(), weight: 0.5 }],
            data_categories: vec!["browsing history".into(), "call +1 555 123 4567".into()],
            legal_basis: LegalBasis::Consent,
        };
        let err = check_explanation(&e).unwrap_err();
        assert_eq!((err.field.as_str(), err.what), ("explanation.data_categories[1]", PHONE));
        e.factors.push(Factor { name: "jane at example dot com".into(), weight: 0.1 });
        assert_eq!(check_explanation(&e).unwrap_err().field, "explanation.factors[1].name");
        e.item = "EAN 4006381333931 for jane@example.com".into();
        assert_eq!(check_explanation(&e).unwrap_err().field, "explanation.item");
    }
}
