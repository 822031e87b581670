//! OpenAPI schemas of the closed domain enums, taken from their `codes!` declarations in
//! `ringfence_core`: the document lists exactly the codes the program parses and prints, so it
//! cannot drift from them. Each type exists only to name a schema; none is ever built.

use std::borrow::Cow;

use ringfence_core::{
    AuthorisationBasis, Beneficiary, ClassKind, ClientCategory, Code, Consent, ExceptionKind, ExceptionState, FiatAccountClass,
    InstitutionKind, KeySchemeKind, MovementKind, OwnAccount, OwnAccountUse, PendingStateKind, Purpose, Segregation, Severity, Side, Tier,
};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The schema of a closed enum: a string, one of its codes.
pub fn code_schema<T: Code>() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(T::CODES.iter().copied()))
        .description(Some(format!("{}{}: one of {}", T::WHAT[..1].to_uppercase(), &T::WHAT[1..], T::expected())))
        .into()
}

macro_rules! code_schemas {
    ($($schema:ident => $code:ident,)+) => {
        $(
            #[doc = concat!("The codes of `", stringify!($code), "` in the OpenAPI document.")]
            #[derive(Debug)]
            pub enum $schema {}

            impl utoipa::PartialSchema for $schema {
                fn schema() -> RefOr<Schema> {
                    code_schema::<$code>()
                }
            }

            impl utoipa::ToSchema for $schema {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($code))
                }
            }

            // The request types of the document derive `Deserialize` for their serde
            // attributes; nothing deserializes them (the import parser reads the bodies).
            impl<'de> serde::Deserialize<'de> for $schema {
                fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
                    Err(serde::de::Error::custom("a schema type is never deserialized"))
                }
            }
        )+
    };
}

code_schemas! {
    AuthorisationBasisCode => AuthorisationBasis,
    BeneficiaryCode => Beneficiary,
    ClassKindCode => ClassKind,
    ExceptionKindCode => ExceptionKind,
    ExceptionStateCode => ExceptionState,
    ClientCategoryCode => ClientCategory,
    ConsentCode => Consent,
    FiatAccountClassCode => FiatAccountClass,
    InstitutionKindCode => InstitutionKind,
    KeySchemeKindCode => KeySchemeKind,
    MovementKindCode => MovementKind,
    OwnAccountCode => OwnAccount,
    OwnAccountUseCode => OwnAccountUse,
    PendingStateKindCode => PendingStateKind,
    PurposeCode => Purpose,
    SegregationCode => Segregation,
    SeverityCode => Severity,
    SideCode => Side,
    TierCode => Tier,
}
