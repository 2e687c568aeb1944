//! The shop's keys as the counter types them: a plate with or without spaces and dashes, in Cyrillic letters
//! that look Latin; a phone number in any format; the last characters of a VIN; an order or invoice number with
//! or without its prefix and zeros. Documents carry these forms and the query is folded the same way, so both
//! engines match them exactly.

/// Cyrillic capitals that look like Latin ones on a plate.
const LOOKALIKES: [(char, char); 12] = [
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('У', 'Y'),
    ('Х', 'X'),
];

/// Upper case, letters and digits only, Cyrillic lookalikes as Latin: `ав 123-к` and `AB123K` are one key.
pub fn plate(raw: &str) -> String {
    raw.chars()
        .flat_map(char::to_uppercase)
        .filter(|c| c.is_alphanumeric())
        .map(|c| {
            LOOKALIKES
                .iter()
                .find(|(cyr, _)| *cyr == c)
                .map_or(c, |(_, lat)| *lat)
        })
        .collect()
}

fn digits(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_digit).collect()
}

/// A phone number's keys: all its digits, and its last ten and seven (a number typed without its country or
/// area code still finds it).
pub fn phone(raw: &str) -> Vec<String> {
    let d = digits(raw);
    if d.len() < 7 {
        return Vec::new();
    }
    let mut keys = vec![format!("T{d}")];
    for n in [10, 7] {
        if d.len() > n {
            keys.push(format!("T{}", &d[d.len() - n..]));
        }
    }
    keys
}

/// A VIN's keys: the whole VIN and its last four to eight characters.
pub fn vin(raw: &str) -> Vec<String> {
    let v = plate(raw);
    let mut keys = vec![format!("V{v}")];
    for n in 4..=8 {
        if v.len() > n {
            keys.push(format!("V{}", &v[v.len() - n..]));
        }
    }
    keys
}

/// An order or invoice number's keys: `WO-00012` is found as `WO-00012`, `wo12`, `00012` and `12`.
pub fn number(raw: &str) -> Vec<String> {
    let whole = plate(raw);
    let d = digits(raw);
    let trimmed = d.trim_start_matches('0');
    let letters: String = whole.chars().filter(|c| !c.is_ascii_digit()).collect();
    let mut keys = vec![format!("N{whole}"), format!("N{d}"), format!("N{trimmed}")];
    keys.push(format!("N{letters}{trimmed}"));
    keys.sort();
    keys.dedup();
    keys.retain(|k| k.len() > 1);
    keys
}

/// A plate's key.
pub fn plate_key(raw: &str) -> String {
    format!("P{}", plate(raw))
}

/// Every key the typed text could mean, taken whole (a plate typed with spaces is one key): a plate, a VIN's
/// tail, an order or invoice number, a phone number.
pub fn query_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let p = plate(text);
    if !p.is_empty() {
        keys.push(format!("P{p}"));
        keys.push(format!("V{p}"));
        keys.push(format!("N{p}"));
    }
    let d = digits(text);
    // Only what looks like a number (digits, perhaps after a prefix of letters) is taken as one: the digits of
    // a VIN tail such as `K4RHFS` are not order 4.
    let number_like = !d.is_empty()
        && p.trim_start_matches(|c: char| c.is_alphabetic())
            .chars()
            .all(|c| c.is_ascii_digit());
    if number_like {
        let trimmed = d.trim_start_matches('0');
        let letters: String = p.chars().filter(|c| !c.is_ascii_digit()).collect();
        keys.push(format!("N{trimmed}"));
        keys.push(format!("N{letters}{trimmed}"));
    }
    if d.len() >= 7 && d.len() * 2 >= p.len() {
        keys.push(format!("T{d}"));
        for n in [10, 7] {
            if d.len() > n {
                keys.push(format!("T{}", &d[d.len() - n..]));
            }
        }
    }
    keys.retain(|k| k.len() > 1);
    keys.sort();
    keys.dedup();
    keys
}

/// The words of a name as the engine compares them: lower case, letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// How many typos a word of this length may carry and still match.
pub fn typos(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plate_is_one_key_however_it_is_typed() {
        assert_eq!(plate("ab 123-k"), "AB123K");
        assert_eq!(plate("АВ 123 К"), "AB123K", "Cyrillic lookalikes");
        assert!(query_keys("ав-123 к").contains(&plate_key("AB123K")));
    }

    #[test]
    fn a_phone_is_found_by_any_spelling_and_without_its_codes() {
        let stored = phone("+1 (555) 123-4567");
        for typed in ["15551234567", "555 123 4567", "123-4567", "+1 555 1234567"] {
            let q = query_keys(typed);
            assert!(
                stored.iter().any(|k| q.contains(k)),
                "{typed}: {q:?} vs {stored:?}"
            );
        }
    }

    #[test]
    fn a_vin_is_found_by_its_last_four_to_eight_characters() {
        let stored = vin("1HGCM82633A004352");
        for typed in ["4352", "004352", "A004352", "3A004352", "1hgcm82633a004352"] {
            assert!(
                query_keys(typed).iter().any(|k| stored.contains(k)),
                "{typed}"
            );
        }
        assert!(!query_keys("435").iter().any(|k| stored.contains(k)));
    }

    #[test]
    fn the_digits_inside_a_vin_tail_are_not_an_order_number() {
        let order_four = number("WO-00004");
        assert!(!query_keys("K4RHFS").iter().any(|k| order_four.contains(k)));
    }

    #[test]
    fn an_order_number_is_found_with_or_without_prefix_and_zeros() {
        let stored = number("WO-00012");
        for typed in ["WO-00012", "wo12", "00012", "12", "wo 12"] {
            assert!(
                query_keys(typed).iter().any(|k| stored.contains(k)),
                "{typed}"
            );
        }
    }
}
