//! A basis element's nonzero entries in the text form, compactly: a run of
//! three or more entries with one value at evenly spaced flat indices
//! prints as a range, `first..=last: value` when the indices are
//! consecutive and `first..=last/step: value` otherwise; any other entry
//! prints as `index: value`. The diagonal of a 4 by 4 identity is
//! `{0..=15/5: 1.0}`. Entries keep their order, so the reader
//! (`crate::parse`) rebuilds exactly the list that was printed.

/// The shortest run printed as a range.
const MIN_RUN: usize = 3;

/// The entries of one element, without the braces.
pub(super) fn entries(es: &[(u32, f64)]) -> String {
    let mut parts = Vec::new();
    let mut k = 0;
    while k < es.len() {
        let n = run_length(&es[k..]);
        let (first, x) = es[k];
        if n >= MIN_RUN {
            let last = es[k + n - 1].0;
            let step = es[k + 1].0 - first;
            if step == 1 {
                parts.push(format!("{first}..={last}: {x:?}"));
            } else {
                parts.push(format!("{first}..={last}/{step}: {x:?}"));
            }
            k += n;
        } else {
            parts.push(format!("{first}: {x:?}"));
            k += 1;
        }
    }
    parts.join(", ")
}

/// How many entries from the first share its value and lie at evenly
/// spaced, increasing indices (1 when the second breaks the pattern).
fn run_length(es: &[(u32, f64)]) -> usize {
    let [(i0, x0), (i1, x1), ..] = es else {
        return es.len();
    };
    if i1 <= i0 || x1.to_bits() != x0.to_bits() {
        return 1;
    }
    let step = i1 - i0;
    let mut n = 2;
    while let Some(&(i, x)) = es.get(n) {
        if i != es[n - 1].0 + step || x.to_bits() != x0.to_bits() {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::entries;

    #[test]
    fn runs_print_as_ranges_and_the_rest_one_by_one() {
        let diag: Vec<(u32, f64)> = (0..4).map(|i| (i * 5, 1.0)).collect();
        assert_eq!(entries(&diag), "0..=15/5: 1.0");
        let row = [(3, 0.5), (4, 0.5), (5, 0.5), (6, -0.5), (9, -0.5)];
        assert_eq!(entries(&row), "3..=5: 0.5, 6: -0.5, 9: -0.5");
        assert_eq!(entries(&[(0, 1.0), (2, 1.0)]), "0: 1.0, 2: 1.0");
        assert_eq!(entries(&[]), "");
        let mixed = [(0, 1.0), (1, 2.0), (2, 1.0), (3, 1.0), (4, 1.0)];
        assert_eq!(entries(&mixed), "0: 1.0, 1: 2.0, 2..=4: 1.0");
    }
}
