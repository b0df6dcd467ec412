import { describeScaledSystem } from './scaled-system';

describeScaledSystem('redis');
