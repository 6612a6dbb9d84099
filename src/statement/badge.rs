//! The "AI-generated" SVG badge of a stamp, for web pages that show stamped content.
//!
//! The badge is a picture, not a proof: anyone can copy it. It links (on the embedding
//! page) to `/verify`, where the proof is checked. Its accessible name and `<title>`
//! carry the issuer's disclosure text, which is user input: every piece of text that
//! reaches the SVG goes through [`xml_escape`].

use std::fmt::Write as _;

use crate::statement::{Disclosure, IssuerName, Kind, Statement};
use crate::time::Timestamp;

/// The facts a badge shows, borrowed from a statement.
#[derive(Debug, Clone, Copy)]
pub struct Badge<'a> {
    pub kind: Kind,
    pub disclosure: &'a Disclosure,
    pub issuer: &'a IssuerName,
    pub issued_at: Timestamp,
}

/// Height of the badge in pixels; widths follow from the labels.
const HEIGHT: u32 = 20;
/// Horizontal padding either side of a label.
const PAD: u32 = 6;
const LEFT_LABEL: &str = "AI-generated";
/// White on these two backgrounds has a contrast ratio above 6.5:1 (WCAG AA for small text
/// needs 4.5:1).
const LEFT_FILL: &str = "#1f2328";
const RIGHT_FILL: &str = "#0b5cad";

impl<'a> Badge<'a> {
    pub fn of(statement: &'a Statement) -> Self {
        Self {
            kind: statement.kind,
            disclosure: &statement.disclosure,
            issuer: &statement.issuer,
            issued_at: statement.issued_at,
        }
    }

    /// The short word shown on the right half of the badge.
    fn kind_label(&self) -> &'static str {
        match self.kind {
            Kind::MarketingCopy => "text",
            Kind::Image => "image",
            Kind::Video => "video",
            Kind::Audio => "audio",
            Kind::RecommendationExplanation => "explanation",
            Kind::Other => "content",
        }
    }

    /// The badge as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let right_label = self.kind_label();
        let (left_text, right_text) = (label_width(LEFT_LABEL), label_width(right_label));
        let left = left_text + 2 * PAD;
        let width = left + right_text + 2 * PAD;
        let disclosure = xml_escape(&self.disclosure.text);
        // Screen readers read the label in one breath: no line breaks in it.
        let aria = xml_escape(&format!("{LEFT_LABEL} {right_label}: {}", collapse_whitespace(&self.disclosure.text)));
        let desc = xml_escape(&format!(
            "Disclosure stamped by {} on {}. Only the verify page proves it.",
            self.issuer,
            self.issued_at.to_rfc3339()
        ));
        let lang = xml_escape(&self.disclosure.lang);
        let mut svg = String::with_capacity(1024 + disclosure.len() * 2);
        // Writing to a String cannot fail.
        let _ = write!(
            svg,
            concat!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{aria}">"#,
                r#"<title lang="{lang}">{disclosure}</title>"#,
                r#"<desc>{desc}</desc>"#,
                r#"<rect width="{w}" height="{h}" rx="3" fill="{rf}"/>"#,
                r#"<rect width="{l}" height="{h}" rx="3" fill="{lf}"/>"#,
                // Squares off the left half's right corners where the halves meet.
                r#"<rect x="{lx}" width="3" height="{h}" fill="{lf}"/>"#,
                r#"<g fill="white" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11" text-anchor="middle">"#,
                // textLength keeps each label inside its half whatever font the viewer has.
                r#"<text x="{lc}" y="14" textLength="{lt}" lengthAdjust="spacingAndGlyphs">{ll}</text>"#,
                r#"<text x="{rc}" y="14" textLength="{rt}" lengthAdjust="spacingAndGlyphs">{rl}</text>"#,
                "</g></svg>\n"
            ),
            w = width,
            h = HEIGHT,
            aria = aria,
            lang = lang,
            disclosure = disclosure,
            desc = desc,
            rf = RIGHT_FILL,
            lf = LEFT_FILL,
            l = left,
            lx = left - 3,
            lc = left / 2,
            lt = left_text,
            ll = LEFT_LABEL,
            rc = left + (width - left) / 2,
            rt = right_text,
            rl = right_label,
        );
        svg
    }
}

/// Width of a label in 11 px Verdana, near enough: the fixed labels are short ASCII.
fn label_width(label: &str) -> u32 {
    (label.chars().count() as u32 * 13).div_ceil(2)
}

fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes text for XML character data and attribute values alike. Markup characters
/// become entities; tab and line breaks become character references (so attribute
/// normalisation cannot change them); characters XML 1.0 forbids become U+FFFD.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn badge_svg(kind: Kind, text: &str) -> String {
        let disclosure = Disclosure { text: text.into(), lang: "en".into() };
        let issuer = IssuerName::parse("Acme Marketing").unwrap();
        let issued_at = Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH);
        Badge { kind, disclosure: &disclosure, issuer: &issuer, issued_at }.to_svg()
    }

    #[test]
    fn names_the_image_by_its_disclosure() {
        let svg = badge_svg(Kind::MarketingCopy, "This text was generated with AI.");
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#), "{svg}");
        assert!(svg.contains(r#"role="img""#));
        assert!(svg.contains(r#"aria-label="AI-generated text: This text was generated with AI.""#), "{svg}");
        assert!(svg.contains(r#"<title lang="en">This text was generated with AI.</title>"#), "{svg}");
        assert!(svg.contains("Acme Marketing on 1970-01-01T00:00:00.000Z"), "{svg}");
        assert!(svg.contains(">AI-generated</text>") && svg.contains(">text</text>"), "{svg}");
    }

    #[test]
    fn disclosure_markup_is_escaped_everywhere() {
        let hostile = "<script>alert(1)</script> & \"quoted\" 'single' ]]> <!-- x -->";
        let svg = badge_svg(Kind::Image, hostile);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<!--"), "{svg}");
        assert!(!svg.contains("]]>"), "{svg}");
        assert!(svg.contains(
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot; &apos;single&apos; ]]&gt; &lt;!-- x --&gt;"
        ));
        // The only elements are the badge's own.
        let tags: Vec<&str> = svg.split('<').skip(1).map(|t| t.split([' ', '>', '/']).next().unwrap()).collect();
        for tag in &tags {
            assert!(["svg", "title", "desc", "rect", "g", "text", ""].contains(tag), "unexpected tag {tag:?} in {svg}");
        }
        // Every '&' starts an entity or a character reference.
        for (i, _) in svg.match_indices('&') {
            let rest = &svg[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#"].iter().any(|e| rest.starts_with(e)),
                "bare & at {i}: {svg}"
            );
        }
    }

    #[test]
    fn line_breaks_survive_in_the_title_and_flatten_in_the_label() {
        let svg = badge_svg(Kind::Video, "Made with AI.\nVoice: synthetic.");
        assert!(svg.contains("<title lang=\"en\">Made with AI.&#10;Voice: synthetic.</title>"), "{svg}");
        assert!(svg.contains("aria-label=\"AI-generated video: Made with AI. Voice: synthetic.\""), "{svg}");
    }

    #[test]
    fn escape_replaces_characters_xml_forbids() {
        assert_eq!(xml_escape("a\u{1}b\u{FFFF}"), "a\u{FFFD}b\u{FFFD}");
        assert_eq!(xml_escape("tab\there"), "tab&#9;here");
        assert_eq!(xml_escape("plain é 日本"), "plain é 日本");
    }

    #[test]
    fn widths_fit_every_kind_label() {
        for kind in
            [Kind::MarketingCopy, Kind::Image, Kind::Video, Kind::Audio, Kind::RecommendationExplanation, Kind::Other]
        {
            let svg = badge_svg(kind, "AI");
            let width: u32 = svg.split("width=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
            assert!((100..200).contains(&width), "{kind:?}: {width}");
        }
    }
}
