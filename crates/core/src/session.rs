//! A shopping session as the aggregates of the Online Shoppers data set: ten numeric
//! columns and seven categorical ones, named exactly like the data set's columns.
//! Values are kept as given (possibly NaN, negative or huge); `features` decides how to
//! clean them, so the rule lives in one place.

use serde::{Deserialize, Serialize};

/// The numeric columns, in data set order.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Numeric {
    Administrative,
    #[serde(rename = "Administrative_Duration")]
    AdministrativeDuration,
    Informational,
    #[serde(rename = "Informational_Duration")]
    InformationalDuration,
    ProductRelated,
    #[serde(rename = "ProductRelated_Duration")]
    ProductRelatedDuration,
    BounceRates,
    ExitRates,
    PageValues,
    SpecialDay,
}

impl Numeric {
    pub const ALL: [Numeric; 10] = [
        Numeric::Administrative,
        Numeric::AdministrativeDuration,
        Numeric::Informational,
        Numeric::InformationalDuration,
        Numeric::ProductRelated,
        Numeric::ProductRelatedDuration,
        Numeric::BounceRates,
        Numeric::ExitRates,
        Numeric::PageValues,
        Numeric::SpecialDay,
    ];

    /// The data set's column name.
    pub fn name(self) -> &'static str {
        match self {
            Numeric::Administrative => "Administrative",
            Numeric::AdministrativeDuration => "Administrative_Duration",
            Numeric::Informational => "Informational",
            Numeric::InformationalDuration => "Informational_Duration",
            Numeric::ProductRelated => "ProductRelated",
            Numeric::ProductRelatedDuration => "ProductRelated_Duration",
            Numeric::BounceRates => "BounceRates",
            Numeric::ExitRates => "ExitRates",
            Numeric::PageValues => "PageValues",
            Numeric::SpecialDay => "SpecialDay",
        }
    }
}

/// The categorical columns (Weekend is a flag and kept apart).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Categorical {
    Month,
    OperatingSystems,
    Browser,
    Region,
    TrafficType,
    VisitorType,
}

impl Categorical {
    pub const ALL: [Categorical; 6] = [
        Categorical::Month,
        Categorical::OperatingSystems,
        Categorical::Browser,
        Categorical::Region,
        Categorical::TrafficType,
        Categorical::VisitorType,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Categorical::Month => "Month",
            Categorical::OperatingSystems => "OperatingSystems",
            Categorical::Browser => "Browser",
            Categorical::Region => "Region",
            Categorical::TrafficType => "TrafficType",
            Categorical::VisitorType => "VisitorType",
        }
    }
}

/// One session's aggregates. Categorical codes are strings ("2", "Nov", "New_Visitor").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
pub struct Session {
    pub numeric: [f64; 10],
    pub month: String,
    pub operating_systems: String,
    pub browser: String,
    pub region: String,
    pub traffic_type: String,
    pub visitor_type: String,
    pub weekend: bool,
}

impl Session {
    pub fn get(&self, column: Numeric) -> f64 {
        self.numeric[column as usize]
    }

    pub fn set(&mut self, column: Numeric, value: f64) {
        self.numeric[column as usize] = value;
    }

    pub fn category(&self, column: Categorical) -> &str {
        match column {
            Categorical::Month => &self.month,
            Categorical::OperatingSystems => &self.operating_systems,
            Categorical::Browser => &self.browser,
            Categorical::Region => &self.region,
            Categorical::TrafficType => &self.traffic_type,
            Categorical::VisitorType => &self.visitor_type,
        }
    }

    pub fn category_mut(&mut self, column: Categorical) -> &mut String {
        match column {
            Categorical::Month => &mut self.month,
            Categorical::OperatingSystems => &mut self.operating_systems,
            Categorical::Browser => &mut self.browser,
            Categorical::Region => &mut self.region,
            Categorical::TrafficType => &mut self.traffic_type,
            Categorical::VisitorType => &mut self.visitor_type,
        }
    }

    /// Whether the visitor is new (the data set's `VisitorType == "New_Visitor"`).
    pub fn is_new_visitor(&self) -> bool {
        self.visitor_type == "New_Visitor"
    }
}
