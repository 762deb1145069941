import type { NoticeKind } from '../health/watch.ts'
// bundled into the compiled binary as text; edit the files in templates/alert/
import down from '../../templates/alert/down.txt'
import flapping from '../../templates/alert/flapping.txt'
import recovered from '../../templates/alert/recovered.txt'
import reminder from '../../templates/alert/reminder.txt'
import restartFailed from '../../templates/alert/restart-failed.txt'

export const TEMPLATES: Record<NoticeKind, string> = {
  down,
  recovered,
  reminder,
  flapping,
  'restart-failed': restartFailed,
}
