//! The mechanisms' CSV inputs, read from text the caller loaded: contributions
//! `donor,project,amount`, clusters `donor,cluster,weight`, bonds
//! `sender,recipient,amount,status`. Every error names the file, the row (line number, header =
//! 1) and the field; repeated (donor, project) rows are summed and reported as notes.

use std::collections::HashMap;

use super::coqaf::{Bond, BondStatus};
use super::{Clusters, MechError, Result, Round};

/// Something the reader did that the user should hear about (not an error).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Note {
    pub file: String,
    pub row: u64,
    pub message: String,
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} row {}: {}", self.file, self.row, self.message)
    }
}

/// A round read from a contributions file, with where each donor and project first appeared.
#[derive(Debug, Clone)]
pub struct RoundInput {
    pub file: String,
    pub round: Round,
    pub donor_rows: Vec<u64>,
    pub notes: Vec<Note>,
}

struct Table {
    file: String,
    rows: Vec<(u64, Vec<String>)>,
}

fn table(file: &str, text: &str, columns: &[&str]) -> Result<Table> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let csv_err = |source| MechError::Csv {
        file: file.to_owned(),
        source,
    };
    let header = reader.headers().map_err(csv_err)?.clone();
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(MechError::Header {
            file: file.to_owned(),
            problem: format!("missing; expected {}", columns.join(",")),
        });
    }
    let mut at = vec![usize::MAX; columns.len()];
    for (n, name) in header.iter().enumerate() {
        match columns.iter().position(|c| c.eq_ignore_ascii_case(name)) {
            Some(k) if at[k] == usize::MAX => at[k] = n,
            Some(_) => {
                return Err(MechError::Header {
                    file: file.to_owned(),
                    problem: format!("column {name:?} appears twice"),
                });
            }
            None => {
                return Err(MechError::Header {
                    file: file.to_owned(),
                    problem: format!("unknown column {name:?} (expected {})", columns.join(",")),
                });
            }
        }
    }
    if let Some(k) = at.iter().position(|&a| a == usize::MAX) {
        return Err(MechError::Header {
            file: file.to_owned(),
            problem: format!(
                "missing column {:?} (expected {})",
                columns[k],
                columns.join(",")
            ),
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, |p| p.line());
        let fields = at.iter().map(|&i| record[i].to_owned()).collect();
        rows.push((line, fields));
    }
    Ok(Table {
        file: file.to_owned(),
        rows,
    })
}

impl Table {
    fn field(&self, row: u64, field: &str, problem: impl Into<String>) -> MechError {
        MechError::Field {
            file: self.file.clone(),
            row,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    fn name(&self, row: u64, field: &str, value: &str) -> Result<String> {
        if value.is_empty() {
            return Err(self.field(row, field, "empty"));
        }
        Ok(value.to_owned())
    }

    /// A finite, non-negative decimal number.
    fn amount(&self, row: u64, field: &str, value: &str) -> Result<f64> {
        let v: f64 = value
            .parse()
            .map_err(|_| self.field(row, field, format!("{value:?} is not a number")))?;
        // Rust parses "NaN" and "inf"; a round has no use for either.
        if !v.is_finite() {
            return Err(self.field(row, field, format!("{value:?} is not a finite number")));
        }
        if v < 0.0 {
            return Err(self.field(row, field, format!("{value} is negative")));
        }
        Ok(v)
    }
}

fn intern(map: &mut HashMap<String, u32>, names: &mut Vec<String>, name: String) -> (u32, bool) {
    if let Some(&i) = map.get(&name) {
        return (i, false);
    }
    let i = names.len() as u32;
    map.insert(name.clone(), i);
    names.push(name);
    (i, true)
}

/// Reads `donor,project,amount` rows into a round.
pub fn contributions(file: &str, text: &str) -> Result<RoundInput> {
    let t = table(file, text, &["donor", "project", "amount"])?;
    let (mut donors, mut projects) = (Vec::new(), Vec::new());
    let (mut dmap, mut pmap) = (HashMap::new(), HashMap::new());
    let mut donor_rows = Vec::new();
    let mut seen: HashMap<(u32, u32), u64> = HashMap::new();
    let mut notes = Vec::new();
    let mut triples = Vec::with_capacity(t.rows.len());
    for (row, f) in &t.rows {
        let donor = t.name(*row, "donor", &f[0])?;
        let project = t.name(*row, "project", &f[1])?;
        let amount = t.amount(*row, "amount", &f[2])?;
        let (d, new) = intern(&mut dmap, &mut donors, donor);
        if new {
            donor_rows.push(*row);
        }
        let (p, _) = intern(&mut pmap, &mut projects, project);
        if let Some(first) = seen.insert((d, p), *row) {
            notes.push(Note {
                file: file.to_owned(),
                row: *row,
                message: format!(
                    "donor {:?} gave to project {:?} again (first at row {first}); the amounts are summed",
                    donors[d as usize], projects[p as usize]
                ),
            });
            seen.insert((d, p), first);
        }
        triples.push((d, p, amount));
    }
    let round = Round::new(donors, projects, triples)?;
    if round.is_empty() {
        return Err(MechError::Empty {
            file: file.to_owned(),
        });
    }
    Ok(RoundInput {
        file: file.to_owned(),
        round,
        donor_rows,
        notes,
    })
}

/// Reads `donor,cluster,weight` rows against a round: a donor unknown to the round is ignored
/// (with a note), a contributing donor in no cluster and a cluster with no contributing donor are
/// errors naming their rows.
pub fn clusters(file: &str, text: &str, round: &RoundInput) -> Result<(Clusters, Vec<Note>)> {
    let t = table(file, text, &["donor", "cluster", "weight"])?;
    let index: HashMap<&str, u32> = round
        .round
        .donors()
        .iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i as u32))
        .collect();
    let mut names = Vec::new();
    let mut cmap = HashMap::new();
    let mut cluster_rows = Vec::new();
    let mut triples = Vec::new();
    let mut notes = Vec::new();
    for (row, f) in &t.rows {
        let donor = t.name(*row, "donor", &f[0])?;
        let cluster = t.name(*row, "cluster", &f[1])?;
        let weight = t.amount(*row, "weight", &f[2])?;
        let (c, new) = intern(&mut cmap, &mut names, cluster);
        if new {
            cluster_rows.push(*row);
        }
        match index.get(donor.as_str()) {
            Some(&d) => triples.push((d, c, weight)),
            None => notes.push(Note {
                file: file.to_owned(),
                row: *row,
                message: format!(
                    "donor {donor:?} made no contribution in {}; row ignored",
                    round.file
                ),
            }),
        }
    }
    let clusters = Clusters::new(names, round.round.donors().len(), triples)?;
    let (donor, cluster) = clusters.gaps(&round.round);
    if let Some(d) = donor {
        return Err(MechError::DonorWithoutCluster {
            file: round.file.clone(),
            row: round.donor_rows[d],
            donor: round.round.donors()[d].clone(),
            clusters: file.to_owned(),
        });
    }
    if let Some(c) = cluster {
        return Err(MechError::ClusterWithoutDonors {
            file: file.to_owned(),
            row: cluster_rows[c],
            cluster: clusters.names()[c].clone(),
        });
    }
    Ok((clusters, notes))
}

/// Reads `sender,recipient,amount,status` rows.
pub fn bonds(file: &str, text: &str) -> Result<Vec<Bond>> {
    let t = table(file, text, &["sender", "recipient", "amount", "status"])?;
    let mut out = Vec::with_capacity(t.rows.len());
    for (row, f) in &t.rows {
        let status = BondStatus::parse(&f[3]).ok_or_else(|| {
            t.field(
                *row,
                "status",
                format!("{:?} is not one of {}", f[3], BondStatus::NAMES.join(", ")),
            )
        })?;
        out.push(Bond {
            sender: t.name(*row, "sender", &f[0])?,
            recipient: t.name(*row, "recipient", &f[1])?,
            amount: t.amount(*row, "amount", &f[2])?,
            status,
        });
    }
    if !out.iter().any(|b| b.amount > 0.0) {
        return Err(MechError::Empty {
            file: file.to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        contributions("c.csv", text)
            .expect_err("invalid")
            .to_string()
    }

    #[test]
    fn bad_contributions_name_file_row_and_field() {
        let cases = [
            (
                "donor,project,amount\na,x,-1\n",
                "c.csv row 2, field amount: -1 is negative",
            ),
            (
                "donor,project,amount\na,x,1\nb,x,NaN\n",
                "c.csv row 3, field amount: \"NaN\" is not a finite number",
            ),
            (
                "donor,project,amount\na,x,ten\n",
                "c.csv row 2, field amount: \"ten\" is not a number",
            ),
            (
                "donor,project,amount\na,x,inf\n",
                "c.csv row 2, field amount: \"inf\" is not a finite number",
            ),
            (
                "donor,project,amount\n,x,1\n",
                "c.csv row 2, field donor: empty",
            ),
            (
                "donor,project,amount,memo\na,x,1,hi\n",
                "c.csv header: unknown column \"memo\"",
            ),
            (
                "donor,amount\na,1\n",
                "c.csv header: missing column \"project\"",
            ),
            ("donor,project,amount\n", "c.csv: empty round"),
            ("donor,project,amount\na,x,0\n", "c.csv: empty round"),
            ("", "c.csv header: missing"),
        ];
        for (text, want) in cases {
            let e = err(text);
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn duplicates_are_summed_and_said() {
        let r =
            contributions("c.csv", "donor,project,amount\na,x,1\nb,x,2\na,x,3\n").expect("valid");
        assert_eq!(r.round.project(0), (&[0u32, 1][..], &[4.0, 2.0][..]));
        assert_eq!(r.notes.len(), 1);
        assert!(
            r.notes[0].to_string().starts_with(
                "c.csv row 4: donor \"a\" gave to project \"x\" again (first at row 2)"
            )
        );
    }

    #[test]
    fn cluster_gaps_name_rows() {
        let r = contributions("c.csv", "donor,project,amount\na,x,1\nb,x,2\n").expect("valid");
        let e = clusters("k.csv", "donor,cluster,weight\na,g,1\n", &r)
            .expect_err("invalid")
            .to_string();
        assert_eq!(
            e,
            "c.csv row 3, field donor: donor \"b\" is in no cluster of k.csv"
        );
        let e = clusters("k.csv", "donor,cluster,weight\na,g,1\nb,g,1\nb,h,0\n", &r)
            .expect_err("invalid")
            .to_string();
        assert_eq!(
            e,
            "k.csv row 4, field cluster: cluster \"h\" has no donor who contributed"
        );
        let (_, notes) =
            clusters("k.csv", "donor,cluster,weight\na,g,1\nb,g,1\nz,g,1\n", &r).expect("valid");
        assert_eq!(notes.len(), 1);
        let e = clusters("k.csv", "donor,cluster,weight\na,g,-2\n", &r)
            .expect_err("invalid")
            .to_string();
        assert_eq!(e, "k.csv row 2, field weight: -2 is negative");
    }

    #[test]
    fn bad_bonds() {
        let e = bonds("b.csv", "sender,recipient,amount,status\ns,r,1,lost\n")
            .expect_err("invalid")
            .to_string();
        assert!(
            e.starts_with("b.csv row 2, field status: \"lost\" is not one of"),
            "{e}"
        );
        assert!(bonds("b.csv", "sender,recipient,amount,status\n").is_err());
    }
}
