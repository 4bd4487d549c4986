import { roleArnOutputKey } from '../../core/stack-outputs';

describe('roleArnOutputKey', () => {
  test('PascalCases the kebab-case role id and appends RoleArn', () => {
    expect(roleArnOutputKey('payments-api')).toBe('PaymentsApiRoleArn');
    expect(roleArnOutputKey('s3-reader')).toBe('S3ReaderRoleArn');
    expect(roleArnOutputKey('vault')).toBe('VaultRoleArn');
  });
});
