import { Journal } from '../../transfer/journal';
import { describeCheckpoint, summarizeCheckpoint } from '../checkpoints';
import { jobsDirectory } from '../environment';
import { ExitCode } from '../exitCodes';
import type { Output } from '../output';

/** Lists the checkpoints of unfinished jobs, newest first. */
export async function jobs(output: Output): Promise<ExitCode> {
  const directory = jobsDirectory();
  const checkpoints = (await Journal.list(directory)).map(summarizeCheckpoint);
  output.result({ command: 'jobs', directory, jobs: checkpoints });
  if (!checkpoints.length) {
    output.print(`No unfinished jobs (checkpoints live in ${directory}).`);
    return ExitCode.Success;
  }
  output.print(
    `Unfinished jobs (checkpoints in ${directory}):`,
    ...checkpoints.flatMap(describeCheckpoint),
    'Go on with research-cloud resume <job-id>, or give one up with research-cloud discard <job-id>.',
  );
  return ExitCode.Success;
}
