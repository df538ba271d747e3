import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Ajv from 'ajv';
import { parseClusterFile, type ClusterFileProblem } from '../../src/cluster/clusterFile';

const VALID = `# A spot cluster for the variant-calling runs
name: genomics
region: eu-west-1
ami: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64
instanceTypes: [c6i.4xlarge, c5.4xlarge, m6i.4xlarge]
subnets:
  - subnet-0123456789abcdef0
  - subnet-89abcdef
securityGroups: [sg-0123456789abcdef0]
instanceProfile: research-node
placementGroup: genomics-tight
count: 8
spot:
  maxPrice: 0.4
  interruptionBehavior: stop
rootVolumeGiB: 100
userData: |
  #!/bin/bash
  dnf install -y htop
tags:
  Project: "1042"
`;

function problems(text: string): ClusterFileProblem[] {
  const result = parseClusterFile(text);
  assert.equal(result.ok, false, 'expected problems');
  return result.ok ? [] : result.problems;
}

const messages = (text: string) => problems(text).map((p) => p.message);

describe('parseClusterFile', () => {
  test('accepts a full file and keeps every key', () => {
    const result = parseClusterFile(VALID);
    assert.ok(result.ok);
    assert.equal(result.spec.count, 8);
    assert.deepEqual(result.spec.spot, { maxPrice: 0.4, interruptionBehavior: 'stop' });
    assert.deepEqual(result.spec.instanceTypes, ['c6i.4xlarge', 'c5.4xlarge', 'm6i.4xlarge']);
    assert.equal(result.spec.userData, '#!/bin/bash\ndnf install -y htop\n');
  });

  test("fills in the schema's defaults: one node, terminate on interruption, the template's default version", () => {
    const result = parseClusterFile('name: small\nami: ami-0123456789abcdef0\ninstanceTypes: [t3.large]\nspot: {}\n');
    assert.ok(result.ok);
    assert.equal(result.spec.count, 1);
    assert.deepEqual(result.spec.spot, { interruptionBehavior: 'terminate' });
    const template = parseClusterFile('name: small\nlaunchTemplate: { name: hpc-node }\n');
    assert.ok(template.ok);
    assert.deepEqual(template.spec.launchTemplate, { name: 'hpc-node', version: '$Default' });
  });

  test('names the path and line of a wrong value, with what is expected', () => {
    const text = VALID.replace('interruptionBehavior: stop', 'interruptionBehavior: pause').replace('count: 8', 'count: 0');
    assert.deepEqual(problems(text), [
      { path: 'count', line: 12, message: 'Line 12: count must be at least 1, not 0.' },
      { path: 'spot.interruptionBehavior', line: 15, message: 'Line 15: spot.interruptionBehavior must be one of terminate, stop, hibernate, not "pause".' },
    ]);
  });

  test('points at list items by index, and explains ids that have the wrong form', () => {
    const text = VALID.replace('subnet-89abcdef', 'subnet-xyz').replace('ami: /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64', 'ami: ubuntu');
    assert.deepEqual(messages(text), [
      'Line 4: ami is not valid: "ubuntu". Use an AMI id (ami-0123456789abcdef0) or the SSM parameter path of a public AMI, such as /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64.',
      'Line 8: subnets[1] is not valid: "subnet-xyz". Use a subnet id such as subnet-0123456789abcdef0.',
    ]);
  });

  test('suggests the key that was meant for an unknown one', () => {
    const text = VALID.replace('instanceTypes:', 'instanceType:').replace('  maxPrice: 0.4', '  maxprice: 0.4');
    assert.deepEqual(messages(text), [
      'Line 2: Give either ami and instanceTypes, or a launchTemplate.',
      'Line 5: The file has an unknown key "instanceType"; did you mean "instanceTypes"?',
      'Line 14: spot has an unknown key "maxprice"; did you mean "maxPrice"?',
    ]);
  });

  test('says to quote a number where text is expected, and refuses reserved tag keys', () => {
    const text = VALID.replace('Project: "1042"', 'Project: 1042\n  aws:owner: me');
    assert.deepEqual(messages(text), [
      'Line 21: tags.Project must be text, not 1042; put it in quotes.',
      'Line 22: The key "aws:owner" in tags is not allowed: Tag keys starting with aws: are reserved by AWS.',
    ]);
  });

  test('asks for either an AMI and types or a launch template, and for a name', () => {
    assert.deepEqual(messages('count: 2\n'), ['Line 1: Give either ami and instanceTypes, or a launchTemplate.', 'Line 1: name is required.']);
    assert.deepEqual(messages('name: x\nlaunchTemplate: { id: lt-0123456789abcdef0, name: hpc }\n'), ["Line 2: In launchTemplate, give the launch template's id or its name (not both)."]);
    assert.deepEqual(messages('name: x\nlaunchTemplate: { name: hpc }\nrootVolumeGiB: 50\n'), [
      "Line 1: rootVolumeGiB needs ami too: the root volume's device name comes from the AMI.",
    ]);
  });

  test('reports repeated types, a list where a mapping belongs, and YAML syntax errors with their line', () => {
    assert.deepEqual(messages(VALID.replace('m6i.4xlarge', 'c6i.4xlarge')), ['Line 5: instanceTypes lists "c6i.4xlarge" twice.']);
    assert.deepEqual(messages('- name: x\n'), ['Line 1: The file must be a mapping (key: value lines), not a list.']);
    const [syntax] = problems('name: genomics\ninstanceTypes: [c5.large\ncount: 2\n');
    assert.equal(syntax.path, '');
    assert.match(syntax.message, /^Line \d: The file is not valid YAML: /);
    assert.deepEqual(messages('name: a\nname: b\n').length, 1, 'duplicate keys are an error, not a silent override');
  });

  test('an empty file asks for its keys', () => {
    assert.deepEqual(messages(''), ['Give either ami and instanceTypes, or a launchTemplate.', 'name is required.']);
  });
});

describe('research-cluster.schema.json', () => {
  test('is a valid draft-07 schema that compiles in strict mode, with a description for every key', () => {
    const schema = JSON.parse(readFileSync(join(__dirname, '..', '..', 'media', 'research-cluster.schema.json'), 'utf8'));
    const ajv = new Ajv({ strict: true, strictRequired: false, strictTypes: false });
    ajv.addKeyword('errorMessage');
    ajv.addKeyword('patternErrorMessage');
    assert.doesNotThrow(() => ajv.compile(schema));
    assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
    for (const [key, value] of Object.entries(schema.properties as Record<string, { description?: string }>)) {
      assert.ok(value.description, `${key} has a description, shown by editors`);
    }
  });
});
