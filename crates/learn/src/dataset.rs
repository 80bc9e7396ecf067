//! Reader for sessions in the Online Shoppers CSV format (header row, comma separated,
//! no quoting). Text in, sessions out; a bad cell is an error naming its line and column.
//! Columns are found by header name, so their order does not matter; `Revenue` is optional.

use edgeprice_core::session::{Categorical, Numeric, Session};

/// A session read from the data set, with its purchase label when the file has one.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub session: Session,
    pub revenue: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("the file is empty (no header row)")]
    Empty,
    #[error("the header has no column {0:?}")]
    MissingColumn(&'static str),
    #[error("line {line}: expected {expected} fields, found {found}")]
    FieldCount { line: usize, expected: usize, found: usize },
    #[error("line {line}, column {column}: {problem}")]
    Cell { line: usize, column: &'static str, problem: String },
}

impl DataError {
    /// Stable code for scripts and HTTP layers.
    pub fn code(&self) -> &'static str {
        match self {
            DataError::Empty => "data_empty",
            DataError::MissingColumn(_) => "data_missing_column",
            DataError::FieldCount { .. } => "data_field_count",
            DataError::Cell { .. } => "data_bad_cell",
        }
    }
}

struct Layout {
    numeric: [usize; 10],
    categorical: [usize; 6],
    weekend: usize,
    revenue: Option<usize>,
    width: usize,
}

fn layout(header: &str) -> Result<Layout, DataError> {
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let find = |name: &'static str| names.iter().position(|n| *n == name).ok_or(DataError::MissingColumn(name));
    let mut numeric = [0; 10];
    for column in Numeric::ALL {
        numeric[column as usize] = find(column.name())?;
    }
    let mut categorical = [0; 6];
    for column in Categorical::ALL {
        categorical[column as usize] = find(column.name())?;
    }
    Ok(Layout { numeric, categorical, weekend: find("Weekend")?, revenue: find("Revenue").ok(), width: names.len() })
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "TRUE" | "True" | "true" | "1" => Some(true),
        "FALSE" | "False" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn cell_error(line: usize, column: &'static str, problem: String) -> DataError {
    DataError::Cell { line, column, problem }
}

/// Parses a whole CSV text. Line numbers count from 1 with the header as line 1; blank
/// lines (a trailing newline, a final empty line) are skipped.
pub fn parse(text: &str) -> Result<Vec<Row>, DataError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(DataError::Empty)?;
    let layout = layout(header.trim_start_matches('\u{feff}'))?;
    let mut rows = Vec::new();
    for (index, raw) in lines {
        let line = index + 1;
        let fields: Vec<&str> = raw.trim_end_matches('\r').split(',').map(str::trim).collect();
        if fields.len() != layout.width {
            return Err(DataError::FieldCount { line, expected: layout.width, found: fields.len() });
        }
        let mut session = Session::default();
        for column in Numeric::ALL {
            let text = fields[layout.numeric[column as usize]];
            let value: f64 = text
                .parse()
                .map_err(|_| cell_error(line, column.name(), format!("expected a number, found {text:?}")))?;
            if !value.is_finite() {
                return Err(cell_error(line, column.name(), format!("{text:?} is not a finite number")));
            }
            session.set(column, value);
        }
        for column in Categorical::ALL {
            let text = fields[layout.categorical[column as usize]];
            if text.is_empty() {
                return Err(cell_error(line, column.name(), "empty category".into()));
            }
            *session.category_mut(column) = text.to_string();
        }
        let weekend = fields[layout.weekend];
        session.weekend = parse_bool(weekend)
            .ok_or_else(|| cell_error(line, "Weekend", format!("expected TRUE or FALSE, found {weekend:?}")))?;
        let revenue = match layout.revenue {
            None => None,
            Some(at) => Some(parse_bool(fields[at]).ok_or_else(|| {
                cell_error(line, "Revenue", format!("expected TRUE or FALSE, found {:?}", fields[at]))
            })?),
        };
        rows.push(Row { session, revenue });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Administrative,Administrative_Duration,Informational,Informational_Duration,ProductRelated,ProductRelated_Duration,BounceRates,ExitRates,PageValues,SpecialDay,Month,OperatingSystems,Browser,Region,TrafficType,VisitorType,Weekend,Revenue";

    #[test]
    fn reads_a_row() {
        let text = format!("{HEADER}\n0,0,0,0,10,262.5,0,0.02,0,0,May,2,2,5,2,Returning_Visitor,FALSE,TRUE\n");
        let rows = parse(&text).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].session.get(Numeric::ProductRelatedDuration), 262.5);
        assert_eq!(rows[0].session.month, "May");
        assert_eq!(rows[0].session.traffic_type, "2");
        assert!(!rows[0].session.weekend);
        assert_eq!(rows[0].revenue, Some(true));
    }

    #[test]
    fn names_line_and_column_of_a_bad_cell() {
        let text = format!(
            "{HEADER}\n0,0,0,0,10,262.5,0,0.02,0,0,May,2,2,5,2,Returning_Visitor,FALSE,TRUE\n0,0,0,0,10,262.5,0,abc,0,0,May,2,2,5,2,Returning_Visitor,FALSE,TRUE\n"
        );
        let err = parse(&text).unwrap_err();
        assert_eq!(err.to_string(), "line 3, column ExitRates: expected a number, found \"abc\"");
        assert_eq!(err.code(), "data_bad_cell");
    }

    #[test]
    fn rejects_short_rows_missing_columns_and_non_finite() {
        let short = format!("{HEADER}\n0,0,0\n");
        assert!(matches!(parse(&short), Err(DataError::FieldCount { line: 2, .. })));
        assert_eq!(parse("Month,Weekend\nMay,TRUE"), Err(DataError::MissingColumn("Administrative")));
        assert_eq!(parse(""), Err(DataError::Empty));
        let nan = format!("{HEADER}\n0,0,0,0,10,NaN,0,0.02,0,0,May,2,2,5,2,Returning_Visitor,FALSE,TRUE\n");
        assert!(parse(&nan).unwrap_err().to_string().contains("ProductRelated_Duration"));
        let weekend = format!("{HEADER}\n0,0,0,0,10,1,0,0.02,0,0,May,2,2,5,2,Returning_Visitor,maybe,TRUE\n");
        assert!(parse(&weekend).unwrap_err().to_string().contains("column Weekend"));
    }

    #[test]
    fn revenue_is_optional() {
        let header = HEADER.trim_end_matches(",Revenue");
        let text = format!("{header}\n0,0,0,0,10,262.5,0,0.02,0,0,May,2,2,5,2,Returning_Visitor,TRUE\n");
        let rows = parse(&text).unwrap();
        assert_eq!(rows[0].revenue, None);
        assert!(rows[0].session.weekend);
    }
}
