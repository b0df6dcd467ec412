import { ArgumentsHost } from '@nestjs/common';
import { ApiExceptionFilter } from '../common/api-exception.filter';
import { invalidField, invalidFields, InvalidInputError } from './invalid-input.error';

describe('InvalidInputError', () => {
  it("reads as its one detail's message", () => {
    const error = invalidField('n', 'n must be a positive integer');
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error.message).toBe('n must be a positive integer');
    expect(error.details).toEqual([{ field: 'n', message: 'n must be a positive integer' }]);
  });

  it('names the fields of several details, once each', () => {
    expect(
      invalidFields([
        { field: 'a', message: 'x' },
        { field: 'a', message: 'y' },
      ]).message,
    ).toBe('Invalid value for a');
    expect(
      invalidFields([
        { field: 'a', message: 'x' },
        { field: 'b', message: 'y' },
        { field: 'a', message: 'z' },
      ]).message,
    ).toBe('Invalid values for a, b');
  });

  it('is answered 422 with its message and details', () => {
    const response = { headersSent: false, setHeader: jest.fn(), status: jest.fn(), json: jest.fn() };
    response.status.mockReturnValue(response);
    const host = { switchToHttp: () => ({ getResponse: () => response }) } as unknown as ArgumentsHost;
    new ApiExceptionFilter().catch(
      invalidFields([
        { field: 'a', message: 'x' },
        { field: 'b', message: 'y' },
      ]),
      host,
    );
    expect(response.status).toHaveBeenCalledWith(422);
    expect(response.json).toHaveBeenCalledWith({
      error: 'Invalid values for a, b',
      details: [
        { field: 'a', message: 'x' },
        { field: 'b', message: 'y' },
      ],
    });
  });
});
