import pino from 'pino';

export const createLogger = (level = process.env.STACKWRIGHT_LOG_LEVEL ?? 'info', name = 'stackwright') => pino({ name, level });
