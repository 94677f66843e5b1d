// The console's pages, in the order of its navigation. A page module exports
// `page = { id, title, icon, role, show(root, ctx, path) }` (see main.js); add yours here.

import { page as teamView } from './teamview.js';
import { page as people } from './people.js';
import { page as reports } from './reports.js';
import { page as company } from './company.js';
import { page as teams } from './teams.js';
import { page as flows } from './flows.js';
import { page as numbers } from './numbers.js';
import { page as trunks } from './trunks.js';
import { page as texting } from './texting.js';
import { page as audit } from './audit.js';
import { page as dialplans } from './dialplans.js';

export const PAGES = [
  teamView,
  people,
  reports,
  company,
  teams,
  flows,
  numbers,
  trunks,
  texting,
  audit,
  dialplans,
];
