//! The metadata fields, declared once: the table below generates [`InstanceMetadata`], the list
//! every other place iterates ([`METADATA_FIELDS`]) and the mock server's model of it, so adding
//! a field is adding a row, and no place can miss it.

use std::collections::BTreeMap;

use serde::Serialize;

/// The metadata table. Given a macro's name, calls it with every field but `custom`, one row
/// each, in wire order (`/// doc` then `name: "otel.resource.key", ["FIRST_VARIABLE", ...];`);
/// given the rows, defines [`InstanceMetadata`] and [`METADATA_FIELDS`].
///
/// `name` is both the Rust field and the JSON member. Detection takes the first usable value of
/// the OpenTelemetry resource attribute, then of the environment variables in order (then, for
/// a few fields, what only the host tells: see `metadata/`).
macro_rules! metadata_fields {
    ($then:ident) => {
        $then! {
            /// Host name of the machine or container.
            hostname: "host.name", [];
            /// The address this instance uses to reach the server.
            ip_address: "host.ip", ["POD_IP"];
            /// Cloud region, e.g. `eu-west-1`.
            // Set by AWS, Fly.io and common platforms, in priority order.
            region: "cloud.region", [
                "AWS_REGION", "AWS_DEFAULT_REGION", "FLY_REGION", "REGION_NAME", "CLOUD_REGION",
                "REGION"
            ];
            // Pod and namespace: where the Kubernetes downward API is commonly mapped to.
            /// Kubernetes pod name.
            kubernetes_pod: "k8s.pod.name", ["POD_NAME", "MY_POD_NAME", "KUBERNETES_POD_NAME"];
            /// Kubernetes namespace.
            kubernetes_namespace: "k8s.namespace.name", [
                "POD_NAMESPACE", "MY_POD_NAMESPACE", "KUBERNETES_NAMESPACE"
            ];
            /// Version of the application itself (not of its configuration).
            app_version: "service.version", ["APP_VERSION"];
        }
    };
    ($($(#[doc = $doc:literal])* $field:ident: $otel:literal, [$($var:literal),* $(,)?];)*) => {
        /// Metadata about the running instance, sent under `metadata` in every report.
        ///
        /// Every field is optional: what is unknown is omitted from the request. Custom labels
        /// go under `metadata.custom`, as the server's model expects.
        ///
        /// ```
        /// use vortex_client::InstanceMetadata;
        ///
        /// let mut meta = InstanceMetadata::default();
        /// meta.region = Some("eu-west-1".into());
        /// meta.custom.insert("team".into(), "platform".into());
        /// assert!(!meta.is_empty());
        /// ```
        ///
        /// Not `#[non_exhaustive]`, so that it can be written as a literal. A new field is
        /// therefore a breaking change, released as one; a literal that ends in
        /// `..Default::default()` keeps compiling across it.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        pub struct InstanceMetadata {
            $(
                $(#[doc = $doc])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
            /// User labels, e.g. `team = platform`.
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            pub custom: BTreeMap<String, String>,
        }

        /// Every metadata field but `custom`, in wire order.
        pub(crate) static METADATA_FIELDS: &[MetadataField] = &[$(
            MetadataField { name: stringify!($field), otel_key: $otel, vars: &[$($var),*] },
        )*];

        impl InstanceMetadata {
            /// Every field but `custom` with its value, in wire order.
            pub(crate) fn fields(
                &self,
            ) -> impl Iterator<Item = (&'static MetadataField, Option<&str>)> {
                METADATA_FIELDS.iter().zip([$(self.$field.as_deref()),*])
            }

            /// Every field but `custom` with its value to be set, in wire order.
            pub(crate) fn fields_mut(
                &mut self,
            ) -> impl Iterator<Item = (&'static MetadataField, &mut Option<String>)> {
                METADATA_FIELDS.iter().zip([$(&mut self.$field),*])
            }
        }
    };
}
metadata_fields!(metadata_fields);
#[cfg(feature = "testing")]
pub(crate) use metadata_fields;

/// One metadata field (`custom` aside): its name and where detection looks for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct MetadataField {
    /// The Rust field and the JSON member.
    pub(crate) name: &'static str,
    /// The OpenTelemetry resource attribute that gives it.
    pub(crate) otel_key: &'static str,
    /// The environment variables detection reads after the attribute, in priority order.
    pub(crate) vars: &'static [&'static str],
}

impl InstanceMetadata {
    /// True when nothing at all is known (the request then omits `metadata`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields().all(|(_, value)| value.is_none()) && self.custom.is_empty()
    }

    /// Fills every field that is `None` here from `other`; custom labels set here win.
    pub(crate) fn fill_from(&mut self, mut other: InstanceMetadata) {
        for ((_, slot), (_, value)) in self.fields_mut().zip(other.fields_mut()) {
            *slot = slot.take().or(value.take());
        }
        for (k, v) in other.custom {
            self.custom.entry(k).or_insert(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value with every field set, each to its own name.
    fn full() -> InstanceMetadata {
        let mut meta = InstanceMetadata::default();
        for (field, slot) in meta.fields_mut() {
            *slot = Some(field.name.to_owned());
        }
        meta.custom.insert("team".into(), "platform".into());
        meta
    }

    #[test]
    fn the_json_of_a_full_value_is_pinned() {
        let json = serde_json::to_string(&full()).unwrap();
        assert_eq!(
            json,
            r#"{"hostname":"hostname","ip_address":"ip_address","region":"region","kubernetes_pod":"kubernetes_pod","kubernetes_namespace":"kubernetes_namespace","app_version":"app_version","custom":{"team":"platform"}}"#
        );
        assert_eq!(
            serde_json::to_string(&InstanceMetadata::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn the_table_pins_every_source() {
        let sources: Vec<_> = METADATA_FIELDS
            .iter()
            .map(|f| (f.name, f.otel_key, f.vars))
            .collect();
        let region: &[&str] = &[
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "FLY_REGION",
            "REGION_NAME",
            "CLOUD_REGION",
            "REGION",
        ];
        assert_eq!(
            sources,
            [
                ("hostname", "host.name", &[][..]),
                ("ip_address", "host.ip", &["POD_IP"]),
                ("region", "cloud.region", region),
                (
                    "kubernetes_pod",
                    "k8s.pod.name",
                    &["POD_NAME", "MY_POD_NAME", "KUBERNETES_POD_NAME"]
                ),
                (
                    "kubernetes_namespace",
                    "k8s.namespace.name",
                    &["POD_NAMESPACE", "MY_POD_NAMESPACE", "KUBERNETES_NAMESPACE"]
                ),
                ("app_version", "service.version", &["APP_VERSION"]),
            ]
        );
    }

    #[test]
    fn emptiness_and_filling_cover_every_field() {
        assert!(InstanceMetadata::default().is_empty());
        for (index, _) in METADATA_FIELDS.iter().enumerate() {
            let mut one = InstanceMetadata::default();
            if let Some((_, slot)) = one.fields_mut().nth(index) {
                *slot = Some("x".into());
            }
            assert!(!one.is_empty(), "{index}");
        }
        let mut filled = InstanceMetadata::default();
        filled.fill_from(full());
        assert_eq!(filled, full());
        let mut mine = InstanceMetadata {
            region: Some("mine".into()),
            ..InstanceMetadata::default()
        };
        mine.custom.insert("team".into(), "mine".into());
        mine.fill_from(full());
        assert_eq!(mine.region.as_deref(), Some("mine"));
        assert_eq!(mine.hostname.as_deref(), Some("hostname"));
        assert_eq!(mine.custom["team"], "mine");
    }
}
