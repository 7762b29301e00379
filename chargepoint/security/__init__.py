"""Security (OCPP 1.6 Security Whitepaper ed. 3): certificates, keys, TLS settings."""
