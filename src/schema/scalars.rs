//! Custom scalars: exact numbers travel as decimal strings so no client ever rounds them through a float.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

use crate::domain::{Money, ParseError, Quantity, TaxRate};

/// A scalar read from and written as its domain type's decimal string.
macro_rules! decimal_string_scalar {
    ($ty:ty, $name:literal, $doc:literal) => {
        #[doc = $doc]
        #[Scalar(name = $name)]
        impl ScalarType for $ty {
            fn parse(value: Value) -> InputValueResult<Self> {
                match value {
                    Value::String(s) => s
                        .parse()
                        .map_err(|e: ParseError| InputValueError::custom(e.message)),
                    other => Err(InputValueError::expected_type(other)),
                }
            }

            fn to_value(&self) -> Value {
                Value::String(self.to_string())
            }
        }
    };
}

decimal_string_scalar!(
    Money,
    "Money",
    "An exact amount in the shop's currency as a decimal string with two decimals, e.g. `\"1234.50\"`."
);
decimal_string_scalar!(
    Quantity,
    "Quantity",
    "A positive quantity with up to three decimals as a string, e.g. `\"1.5\"` hours."
);
decimal_string_scalar!(
    TaxRate,
    "TaxRate",
    "A percentage with up to two decimals as a string, e.g. `\"20\"` or `\"7.25\"`."
);
