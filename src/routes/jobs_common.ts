import { AppError } from '../errors.ts';
import type { JobManager, JobState } from '../jobs/manager.ts';
import type { Services } from '../services.ts';

export function managerOf(s: Services): JobManager {
  if (!s.jobs) throw new AppError('backend_unavailable', 'batch jobs are not available in this process');
  return s.jobs;
}

export const jobView = (st: JobState) => {
  const { input: _input, ...rest } = st;
  return { ...rest, errorsUrl: `/v1/jobs/${st.id}/errors` };
};

export function jobOr404(m: JobManager, id: string): JobState {
  let st: JobState | null = null;
  try {
    st = m.get(id);
  } catch {
    st = null;
  }
  if (!st) throw new AppError('not_found', `no job ${id}`);
  return st;
}
