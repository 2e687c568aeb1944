//! What a file is made of before it is stored: the key the server makes for it, the name it was uploaded under,
//! and its declared content type.

use std::fmt;

use super::ParseError;

/// Where an object lives in the bucket. Only the server makes keys (random, never from a client's file name),
/// and a stored key is read back through [`ObjectKey::parse`], which refuses anything that could leave its
/// folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// A fresh random key in the folder of `kind` (customer, vehicle, work_order, invoice).
    pub fn random(kind: &str) -> Self {
        Self(format!("{kind}/{}", uuid::Uuid::new_v4().simple()))
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = !raw.is_empty()
            && raw.len() <= 200
            && !raw.starts_with('/')
            && raw.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new("invalid_object_key", "not an object key"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name a file was uploaded under, kept to show and to download as: no folders, no control characters, no
/// quotes or backslashes that could break a header, at most 200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        // A browser may send a full path (old Internet Explorer did): keep its last part.
        let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let clean: String = base
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
            .collect();
        let clean = clean.trim().trim_start_matches('.').trim();
        if clean.is_empty() {
            return Err(ParseError::new(
                "invalid_file_name",
                "the file needs a name",
            ));
        }
        Ok(Self(clean.chars().take(200).collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A MIME type as declared for an upload: `type/subtype`, lower case, no parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType(String);

impl ContentType {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim().to_ascii_lowercase();
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
        };
        match t.split_once('/') {
            Some((a, b)) if token(a) && token(b) && t.len() <= 100 => Ok(Self(t)),
            _ => Err(ParseError::new(
                "invalid_content_type",
                "a content type looks like image/jpeg",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the stored bytes must prove the type: images and PDFs, which browsers and viewers trust.
    pub fn is_checked(&self) -> bool {
        self.0.starts_with("image/") || self.0 == "application/pdf"
    }

    /// Whether a browser may show it in place: raster images and PDFs. Anything else (HTML, SVG, scripts) is
    /// only ever downloaded, so an upload can never run as a page of the store's origin.
    pub fn shows_inline(&self) -> bool {
        matches!(
            self.0.as_str(),
            "image/jpeg" | "image/png" | "image/gif" | "image/webp" | "application/pdf"
        )
    }

    /// The `Content-Disposition` a download of `name` is served with.
    pub fn disposition(&self, name: &FileName) -> String {
        let kind = if self.shows_inline() {
            "inline"
        } else {
            "attachment"
        };
        let ascii: String = name
            .as_str()
            .chars()
            .map(|c| if c.is_ascii() { c } else { '_' })
            .collect();
        format!(
            "{kind}; filename=\"{ascii}\"; filename*=UTF-8''{}",
            percent_encode(name.as_str())
        )
    }
}

/// RFC 5987 encoding of a header parameter: every byte outside the unreserved set as `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_cannot_leave_their_folder() {
        assert!(ObjectKey::parse("customer/0a1b").is_ok());
        for bad in ["../x", "a/../b", "/a", "a//b", "a/./b", "a b", "", "a\\b"] {
            assert!(ObjectKey::parse(bad).is_err(), "{bad}");
        }
        let k = ObjectKey::random("work_order");
        assert_eq!(ObjectKey::parse(k.as_str()), Ok(k));
    }

    #[test]
    fn file_names_lose_folders_quotes_and_control_characters() {
        assert_eq!(
            FileName::parse("C:\\photos\\dent.jpg").map(FileName::into_inner),
            Ok("dent.jpg".to_owned())
        );
        assert_eq!(
            FileName::parse("../../etc/passwd").map(FileName::into_inner),
            Ok("passwd".to_owned())
        );
        assert_eq!(
            FileName::parse("a\"b\r\n.pdf").map(FileName::into_inner),
            Ok("ab.pdf".to_owned())
        );
        assert!(FileName::parse("  ").is_err());
        assert!(FileName::parse("..").is_err());
    }

    #[test]
    fn only_raster_images_and_pdfs_show_in_place() {
        let name = FileName::parse("счёт.pdf").expect("name");
        let pdf = ContentType::parse("Application/PDF").expect("pdf");
        assert!(
            pdf.disposition(&name)
                .starts_with("inline; filename=\"____.pdf\"; filename*=UTF-8''%D1%81")
        );
        for t in ["image/svg+xml", "text/html", "text/plain"] {
            let t = ContentType::parse(t).expect("type");
            assert!(t.disposition(&name).starts_with("attachment;"), "{t:?}");
        }
        assert!(ContentType::parse("text/html; charset=utf-8").is_err());
    }
}
