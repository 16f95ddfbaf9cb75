export * from './render-action.dto';
export * from './render-options.dto';
export * from './render-request.dto';
export * from './render-response';
