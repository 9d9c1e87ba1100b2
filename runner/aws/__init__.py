"""Where an AWS-hosted runner gets its database credentials, and how it connects to them.

- `secrets`: read the RDS-shaped secret from Secrets Manager (`DB_SECRET_ARN`).
- `iam`: a fresh IAM database authentication token per connection (`DB_IAM_AUTH=true`).
- `tls`: `sslmode=verify-full` against the bundled Amazon RDS CAs unless weakened on purpose.
- `credentials`: the `CredentialSource`s the engine uses, built by `aws_credential_source`.

Imported only when one of those variables is set (see `runner.core.sources`), so local runs never
load boto3.
"""

from runner.aws.credentials import IamCredentials, SecretCredentials, aws_credential_source

__all__ = ["IamCredentials", "SecretCredentials", "aws_credential_source"]
