import { ArgumentsHost } from '@nestjs/common';
import { ApiExceptionFilter } from '../common/api-exception.filter';
import { plainToInstance, Type } from 'class-transformer';
import { IsEmail, IsOptional, IsString, MaxLength, ValidateNested, validateSync } from 'class-validator';
import { BODY_VALIDATION } from '../common/api-validation.pipe';
import { invalidField, invalidFields, InvalidInputError, validationDetails } from './invalid-input.error';

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

describe('validationDetails', () => {
  class Address {
    @IsString()
    @MaxLength(10)
    city: string;
  }
  class SignUp {
    @IsEmail({}, { message: 'email must be an email address' })
    @MaxLength(254)
    email: string;

    @IsOptional()
    @IsString()
    nickname?: string;

    @ValidateNested()
    @Type(() => Address)
    address: Address;
  }
  const details = (body: object) => validationDetails(validateSync(plainToInstance(SignUp, body), BODY_VALIDATION));

  it('says a missing required field is required, once, instead of every constraint it breaks', () => {
    expect(details({ address: {} })).toEqual([
      { field: 'email', message: 'email is required' },
      { field: 'address.city', message: 'address.city is required' },
    ]);
  });

  it('still names each broken constraint of a field that is present, and of one sent as null', () => {
    expect(details({ email: 'x'.repeat(300), address: { city: 'c' } })).toEqual([
      { field: 'email', message: 'email must be shorter than or equal to 254 characters' },
      { field: 'email', message: 'email must be an email address' },
    ]);
    expect(details({ email: null, address: { city: 'c' } }).map((detail) => detail.message)).toContain('email must be an email address');
  });
});
