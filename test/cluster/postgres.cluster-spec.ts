import { describeScaledSystem } from './scaled-system';

describeScaledSystem('postgres');
