//! The user name a TLS client certificate stands for: the Common Name of its subject.
//!
//! rustls verifies the certificate against the configured CA; this module only reads the
//! verified DER, walking the few fields before the subject (RFC 5280 4.1) without a general
//! ASN.1 parser. Anything unexpected gives `None`, and the connection then has no
//! certificate identity.

/// The subject Common Name (OID 2.5.4.3) of a DER X.509 certificate, if it has a UTF-8 one.
pub(crate) fn common_name(cert: &[u8]) -> Option<String> {
    let (_, certificate, _) = tlv(cert)?;
    let (_, mut tbs, _) = tlv(certificate)?;
    // version [0] EXPLICIT, optional.
    if tbs.first() == Some(&0xA0) {
        tbs = tlv(tbs)?.2;
    }
    // serialNumber, signature, issuer, validity, then the subject.
    for _ in 0..4 {
        tbs = tlv(tbs)?.2;
    }
    let (_, mut subject, _) = tlv(tbs)?;
    while !subject.is_empty() {
        let (_, set, rest) = tlv(subject)?;
        subject = rest;
        let (_, attribute, _) = tlv(set)?;
        let (oid_tag, oid, value) = tlv(attribute)?;
        const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
        if oid_tag == 0x06 && oid == COMMON_NAME {
            let (tag, text, _) = tlv(value)?;
            // UTF8String, PrintableString, IA5String.
            if matches!(tag, 0x0C | 0x13 | 0x16) {
                return String::from_utf8(text.to_vec()).ok();
            }
        }
    }
    None
}

/// One DER tag-length-value: (tag, contents, what follows). Single-byte tags only.
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(n)?;
        rest = after;
        bytes
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b))
    };
    let (contents, after) = rest.split_at_checked(len)?;
    Some((tag, contents, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_subject_common_name_not_the_issuers() {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "the ca");
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "org");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "alice");
        let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
        assert_eq!(common_name(cert.der()).as_deref(), Some("alice"));
        assert_eq!(common_name(ca.der()).as_deref(), Some("the ca"));
    }

    #[test]
    fn garbage_has_no_name() {
        assert_eq!(common_name(&[]), None);
        assert_eq!(common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(common_name(&[0x30, 0x03, 0x30, 0x01]), None);
    }
}
