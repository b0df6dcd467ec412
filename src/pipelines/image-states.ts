/**
 * Where an image is in its life: the `status` of an image row. Beside the job states, so that the
 * job flow (src/job-runs) and work reuse read them without loading the images resource.
 */
export const IMAGE_STATUS = {
  created: 'created',
  originalStored: 'original stored',
  processed: 'processed',
  /** An original whose full decode failed in the worker: `corruptReason` says why. */
  corrupt: 'corrupt',
} as const;
