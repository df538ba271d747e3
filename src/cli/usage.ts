/** The command lines, shown after a usage error. */
export const SHORT_USAGE = `Usage:
  research-cloud upload <path>... s3://bucket/prefix/ [options]
  research-cloud sync <path>... s3://bucket/prefix/ [options] [--compare MODE] [--delete]
  research-cloud download s3://bucket/prefix-or-key <folder> [--if-exists skip|overwrite|fail]
  research-cloud jobs | resume <job-id> | discard <job-id>
  research-cloud cleanup s3://bucket[/prefix] [--yes]
  research-cloud ssm shell <instance-id> | ssm forward <instance-id> <remote-port>[:<local-port>] | ssm proxy <instance-id> [--port 22]
Run research-cloud --help for every option.`;

export const FULL_HELP = `research-cloud: move research data between this machine and S3 with the engine of the
Research Cloud extension (parallel, verified, resumable), from any shell.

Commands:
  upload <path>... s3://bucket/prefix/
      Upload files and folders. A folder keeps its name and structure under the prefix:
      upload ./run42 s3://lab/raw/ makes s3://lab/raw/run42/...
  sync <path>... s3://bucket/prefix/
      Upload only the files that are new or changed. --delete also deletes objects under
      s3://bucket/prefix/<folder name>/ that have no local file (asked first; --yes to skip).
  download s3://bucket/prefix-or-key <folder>
      Download an object, or every object under a prefix (saved as <folder>/<last part of the
      prefix>/...; a whole bucket as <folder>/<bucket>/...). Files appear only when complete.
  jobs
      List unfinished upload jobs (their checkpoints).
  resume <job-id>
      Go on with a cancelled or failed job: finished files and parts are not sent again.
  discard <job-id>
      Give a job up: abort its open multipart uploads and delete its checkpoint.
  ssm shell|forward|proxy <instance-id> ...
      Terminals, port forwarding and an SSH ProxyCommand through Session Manager, with no
      SSH keys in the way and no session-manager-plugin (research-cloud ssm --help).
  cleanup s3://bucket[/prefix]
      List multipart uploads that were started and never finished (invisible, but billed), and
      abort them once confirmed. Uploads of a job in research-cloud jobs are left to that job.

Connection (the same profiles and endpoints as the extension and the AWS CLI):
  --profile NAME          from ~/.aws/config or ~/.aws/credentials (else AWS_PROFILE, else default)
  --region REGION         else AWS_REGION, AWS_DEFAULT_REGION, then the profile's region
  --endpoint URL          an S3-compatible store (Ceph, MinIO...); else AWS_ENDPOINT_URL_S3,
                          AWS_ENDPOINT_URL or the profile's endpoint_url
  --path-style            address buckets as endpoint/bucket (default: on for S3-compatible stores)

Upload and sync:
  --storage-class CLASS   STANDARD, INTELLIGENT_TIERING, STANDARD_IA, GLACIER_IR, GLACIER or
                          DEEP_ARCHIVE
  --sse AES256|aws:kms    server-side encryption
  --sse-kms-key-id ID     the KMS key for aws:kms (implies --sse aws:kms)
  --no-content-type       send no Content-Type (by default it comes from the file name)
  --gzip                  gzip compressible files sent in one request (upload only)
  --hashed-prefixes       spread keys under hashed prefixes and write a manifest (upload only)
  --exclude GLOB          leave out matching paths, e.g. '**/*.tmp' or '.git/**' (repeatable)
  --follow-symlinks       follow symbolic links (by default they are skipped and listed)
  --part-size MiB         multipart part size, 5 to 5120 (default 8, larger for huge files)
  --concurrency N         pin the requests in flight (default: found by measurement)
  --max-concurrency N     ceiling for the requests in flight (default 64)
  --memory MiB            most bytes read and not yet sent (default 512)
  --compare MODE          sync, how a file is found unchanged among objects of its size:
                          size-and-mtime (default: the mtime kept in the object's metadata, one
                          HEAD each), size-and-time (stored after the file changed, like aws s3
                          sync; no extra request) or checksum (reads every file)
  --delete                sync: delete remote objects that have no local file

Download:
  --if-exists POLICY      skip (default: a second run goes on where the first stopped),
                          overwrite or fail
  --concurrency N         requests in flight (default 16)
  --part-size MiB         size of each ranged GET of a big object (default 8)

Output and confirmation:
  --dry-run               upload, sync, cleanup: show what would be done and send nothing
  --json                  print one JSON object as the result, and no progress bar
  --yes                   do not ask: before a large upload (over 1,000 files or 10 GB), before
                          deleting (sync --delete, cleanup). Without a terminal nothing is asked:
                          large uploads go ahead, deletions need --yes.
  --verbose               also print the engine's log (retries, concurrency changes) on stderr
  -h, --help              this help;  --version  the version

Checkpoints live in $XDG_CACHE_HOME/research-cloud/jobs (default ~/.cache/research-cloud/jobs).
Ctrl-C (or SIGTERM, e.g. a batch job's time limit) stops a job cleanly and prints the
research-cloud resume command to go on; a second Ctrl-C quits at once.

Exit status: 0 all done; 1 some files failed (listed on stderr with the reasons); 2 usage error;
3 the job stopped (credentials, access denied, missing bucket, cancelled).`;
